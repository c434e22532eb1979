"""Prefect flow: ingest -> validate -> images -> pretrain -> embed -> train -> register.

Each task calls the same ``biomoe.stages`` function as the matching ``dvc.yaml`` stage, with the
same params.yaml, so both doors write byte-identical artifacts. A failed task (e.g. validation)
stops the flow before any later stage runs. The images and embed stages fan out: each image or
embedding shard is a task run of its own, on the task runner ``scaleout`` in params names
(threads, processes, or a Dask cluster through prefect-dask). At the end the run publishes a
markdown artifact (``schedule.artifact_key``): its metrics, the registered model version and
links into the MLflow UI.

    python flows/retrain.py                       # one run now, on ./data/raw
    python flows/retrain.py --demo                # generate the demo data first

On a schedule: ``biomoe.flows.deploy`` (which imports this flow; never the other way).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import Flow, flow, task
from prefect.artifacts import create_markdown_artifact

from biomoe import numerics
from biomoe.config import load_params
from biomoe.paths import ProjectPaths
from biomoe.reporting import read_retrain_report
from biomoe.scaleout.prefect_runner import PrefectRunner, prefect_task_runner
from biomoe.stages import PIPELINE, stage

SHARDED = ("images", "embed")
"""Stages whose shards are task runs of their own (mapped on the flow's task runner)."""


@task
def run_stage(stage_name: str, root: str, params_file: str, tracking_uri: str | None) -> str:
    """Run one pipeline stage; tasks take paths and names, never DataFrames or models."""
    output = stage(stage_name)(
        load_params(params_file), ProjectPaths.at(root), tracking_uri=tracking_uri
    )
    return str(output)


@task
def make_demo_data(root: str, params_file: str) -> str:
    return str(stage("demo_data")(load_params(params_file), ProjectPaths.at(root)))


@task
def publish_report(root: str, params_file: str) -> str:
    """The run's markdown artifact; reads the train and register outputs, writes no file."""
    schedule = load_params(params_file).schedule
    markdown = read_retrain_report(ProjectPaths.at(root), schedule.mlflow_ui_url)
    artifact_id = create_markdown_artifact(
        markdown, key=schedule.artifact_key, description="biomoe retrain: metrics and model"
    )
    return str(artifact_id)


@flow(name="biomoe-retrain", log_prints=True)
def retrain(
    root: str = ".",
    params_file: str | None = None,
    tracking_uri: str | None = None,
    demo: bool = False,
) -> dict[str, str]:
    """The whole chain on ``root``; returns each stage's main output path."""
    root = str(Path(root).resolve())
    params_file = params_file or str(ProjectPaths.at(root).params)
    if demo:
        make_demo_data(root, params_file)
    outputs: dict[str, str] = {}
    for name in PIPELINE:
        if name in SHARDED:
            params = load_params(params_file)
            output = stage(name)(
                params, ProjectPaths.at(root), tracking_uri, runner=PrefectRunner()
            )
            outputs[name] = str(output)
        else:
            outputs[name] = run_stage.with_options(name=name, task_run_name=name)(
                name, root, params_file, tracking_uri
            )
    publish_report(root, params_file)
    return outputs


def configured(params_file: str | Path) -> Flow:
    """``retrain`` on the task runner that ``scaleout`` in ``params_file`` names."""
    return retrain.with_options(task_runner=prefect_task_runner(load_params(params_file).scaleout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".")
    parser.add_argument("--params", default=None)
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--demo", action="store_true", help="generate the demo dataset first")
    args = parser.parse_args()
    params_file = args.params or str(ProjectPaths.at(args.root).params)
    numerics.enter(numerics.configured(params_file))
    configured(params_file)(args.root, args.params, args.tracking_uri, args.demo)
