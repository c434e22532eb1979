"""Prefect flow: ingest -> validate -> images -> pretrain -> embed -> train -> register.

Each task calls the same ``biomoe.stages`` function as the matching ``dvc.yaml`` stage, with the
same params.yaml, so both doors write byte-identical artifacts, and each stage runs exactly when
``dvc repro`` would run it: the flow asks DVC (``biomoe.lineage``), skips an unchanged stage,
checks out a run-cached one, and records every stage it runs in ``dvc.lock`` as ``dvc repro``
does, so a ``dvc repro`` after a flow run (or a flow run after ``dvc repro``) does nothing. A run
with nothing new runs no stage and registers no version. New input data is versioned before
anything is trained on it: once validation passes, data/raw is recorded in ``data.dvc`` and
pushed to the default DVC remote (``dvc add`` + ``dvc push``), so the registered version's
``dvc_data_md5`` tag names data that can be restored (``biomoe restore-data``). ``root`` must
hold the pipeline's ``dvc.yaml`` and ``data.dvc`` (a clone of the project). A failed task (e.g.
validation) stops the flow before any later stage runs and leaves the stages before it recorded.
The images and embed stages fan out: each image or embedding shard is a task run of its own,
on the task runner ``scaleout`` in params names (threads, processes, or a Dask cluster through
prefect-dask). At the end the run publishes a
markdown artifact (``schedule.artifact_key``): its metrics, the registered model version and
links into the MLflow UI, and what each stage did and why.

    python flows/retrain.py                       # one run now, on ./data/raw
    python flows/retrain.py --demo                # generate the demo data first

On a schedule: ``biomoe.flows.deploy`` (which imports this flow; never the other way).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from prefect import Flow, flow, task
from prefect.artifacts import create_markdown_artifact

from biomoe import numerics
from biomoe.config import load_params
from biomoe.data.tracked import version_data
from biomoe.errors import BiomoeError
from biomoe.flows.faults import RetryPolicy, project_lock, retrying, run_cli_stage
from biomoe.lineage import Outcome, reproduce
from biomoe.paths import ProjectPaths
from biomoe.reporting import read_retrain_report
from biomoe.scaleout.prefect_runner import PrefectRunner, prefect_task_runner
from biomoe.stages import PIPELINE, stage

DATA_DVC = "data.dvc"
"""The input data's DVC record (data/raw), kept in git."""

SHARDED = ("images", "embed")
"""Stages whose shards are task runs of their own (mapped on the flow's task runner)."""


def _timeout(params_file: str, name: str) -> float:
    return load_params(params_file).schedule.stage_timeout_s[name]


def _policy(params_file: str) -> RetryPolicy:
    return RetryPolicy.of(load_params(params_file).schedule)


@task
def run_stage(stage_name: str, root: str, params_file: str, tracking_uri: str | None) -> Outcome:
    """One pipeline stage, when DVC says it changed: a ``biomoe <stage>`` process, as ``dvc
    repro`` runs it, stopped after its time limit and retried on transient errors. Tasks take
    paths and names, never DataFrames or models."""
    timeout = _timeout(params_file, stage_name)

    def run() -> None:
        run_cli_stage(stage_name, Path(root), Path(params_file), tracking_uri, timeout)

    return retrying(
        lambda: reproduce(Path(root), stage_name, run), _policy(params_file), stage_name
    )


def _reproduce_sharded(name: str, root: str, params_file: str, tracking_uri: str | None) -> Outcome:
    """A sharded stage runs in the flow itself, each shard a task run of its own; past its time
    limit the stage fails (shards already written are kept: they are content-addressed)."""
    timeout = _timeout(params_file, name)

    def run() -> None:
        runner = PrefectRunner(
            deadline=time.monotonic() + timeout,
            timeout_message=f"stage {name} ran past schedule.stage_timeout_s.{name} = "
            f"{timeout:g} s; nothing of it is recorded in dvc.lock (the next run re-runs it)",
        )
        stage(name)(load_params(params_file), ProjectPaths.at(root), tracking_uri, runner=runner)

    return retrying(lambda: reproduce(Path(root), name, run), _policy(params_file), name)


@task
def make_demo_data(root: str, params_file: str) -> str:
    return str(stage("demo_data")(load_params(params_file), ProjectPaths.at(root)))


@task
def publish_report(root: str, params_file: str, outcomes: list[Outcome]) -> str:
    """The run's markdown artifact; reads the train and register outputs, writes no file."""
    schedule = load_params(params_file).schedule
    markdown = read_retrain_report(ProjectPaths.at(root), schedule.mlflow_ui_url, outcomes)
    artifact_id = create_markdown_artifact(
        markdown, key=schedule.artifact_key, description="biomoe retrain: metrics and model"
    )
    return str(artifact_id)


@task
def version_input_data(root: str, params_file: str) -> str:
    """data/raw into data.dvc and the DVC remote, after validation and before images; retried
    while the remote is unreachable."""
    md5, moved = retrying(lambda: version_data(Path(root), DATA_DVC), _policy(params_file), "data")
    print(f"data: {DATA_DVC} records {md5}" + (" (new data, pushed)" if moved else " (pushed)"))
    return md5


def _require_project(root: str, params_file: str) -> None:
    for name in ("dvc.yaml", DATA_DVC):
        if not (Path(root) / name).is_file():
            raise BiomoeError(
                f"{root}: no {name}; the flow runs a DVC project's pipeline (its change "
                "detection is DVC's, its input data versioned in data.dvc), so run it in a "
                "clone of the project"
            )
    missing = [n for n in PIPELINE if n not in load_params(params_file).schedule.stage_timeout_s]
    if missing:
        raise BiomoeError(
            f"{params_file}: schedule.stage_timeout_s has no limit for {', '.join(missing)} "
            "(every stage needs one, in seconds)"
        )


@flow(name="biomoe-retrain", log_prints=True)
def retrain(
    root: str = ".",
    params_file: str | None = None,
    tracking_uri: str | None = None,
    demo: bool = False,
) -> dict[str, str]:
    """The whole chain on ``root``, holding the project's run lock; returns what each stage did
    (``skipped``, ``restored`` or ``ran``)."""
    root = str(Path(root).resolve())
    params_file = params_file or str(ProjectPaths.at(root).params)
    _require_project(root, params_file)
    outcomes: list[Outcome] = []
    with project_lock(Path(root), load_params(params_file).schedule.lock_timeout_s):
        if demo:
            make_demo_data(root, params_file)
        for name in PIPELINE:
            if name in SHARDED:
                outcome = _reproduce_sharded(name, root, params_file, tracking_uri)
            else:
                outcome = run_stage.with_options(name=name, task_run_name=name)(
                    name, root, params_file, tracking_uri
                )
            print(outcome.summary())
            outcomes.append(outcome)
            if name == "validate":
                version_input_data(root, params_file)
        publish_report(root, params_file, outcomes)
    return {o.stage: o.action for o in outcomes}


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
