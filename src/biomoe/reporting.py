"""The retrain report: a markdown summary of one run for the people who watch scheduled runs.

It reads what the train and register stages wrote (``metrics/classifier.json``, the registry
receipt ``reports/registry.json``) and writes nothing, so it never changes an artifact that DVC
tracks. The metrics file is rendered generically (nested keys joined with dots), so new metrics
appear without a change here. The run's stage outcomes (``biomoe.lineage``) say which stages ran
and why; a run in which register did not run says which version is still the current one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from biomoe.config import flatten
from biomoe.errors import BiomoeError
from biomoe.lineage import Outcome
from biomoe.paths import ProjectPaths


def format_value(value: Any) -> str:
    """Numbers to 4 significant digits (integers exact); lists element by element."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, str], rows: list[tuple[str, str]]) -> list[str]:
    lines = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    lines += [f"| {_cell(key)} | {_cell(value)} |" for key, value in rows]
    return lines


def mlflow_run_url(base: str, experiment_id: str, run_id: str) -> str:
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def mlflow_model_version_url(base: str, name: str, version: str) -> str:
    return f"{base.rstrip('/')}/#/models/{name}/versions/{version}"


def _headline(name: str, version: str, alias: str, outcomes: Sequence[Outcome]) -> str:
    ran = {o.stage for o in outcomes if o.action != "skipped"}
    if not outcomes or "register" in ran:
        return f"# Retrained `{name}` version {version} (alias `{alias}`)"
    if not ran:
        return (
            f"# Nothing changed since `{name}` version {version} (alias `{alias}`): "
            "no stage ran, no version registered"
        )
    return (
        f"# No new version: `{name}` version {version} (alias `{alias}`) is still current "
        f"({', '.join(sorted(ran))} re-ran and wrote what dvc.lock records)"
    )


def stages_table(outcomes: Sequence[Outcome]) -> list[str]:
    """One row per stage: what happened and DVC's reasons."""
    rows = [
        (o.stage, o.action + (f": {'; '.join(o.reasons)}" if o.reasons else ": unchanged"))
        for o in outcomes
    ]
    return _table(("stage", "outcome"), rows)


def retrain_report(
    metrics: Mapping[str, Any],
    receipt: Mapping[str, Any],
    mlflow_ui_url: str,
    outcomes: Sequence[Outcome] = (),
) -> str:
    """Markdown: the registered model (name, version, alias, MLflow links), the stages' outcomes
    (when given), then every metric.

    The MLflow run link needs ``run_id`` and ``experiment_id`` (``reports/registry_run.json``,
    beside the receipt, which DVC tracks and so holds only reproducible fields); without them the
    report says so and still links the model version."""
    name, version = str(receipt["model_name"]), str(receipt["version"])
    alias = receipt.get("alias") or "none"
    lines = [_headline(name, version, str(alias), outcomes), ""]
    run_id, experiment_id = receipt.get("run_id"), receipt.get("experiment_id")
    run_link = (
        f"[{run_id}]({mlflow_run_url(mlflow_ui_url, str(experiment_id), str(run_id))})"
        if run_id and experiment_id is not None
        else "unknown (no reports/registry_run.json)"
    )
    model_link = (
        f"[models:/{name}/{version}]({mlflow_model_version_url(mlflow_ui_url, name, version)})"
    )
    rows = [("MLflow run", run_link), ("model version", model_link)]
    rows += [
        (key, format_value(value))
        for key, value in sorted(flatten(receipt).items())
        if key not in {"run_id", "experiment_id"}
    ]
    lines += _table(("registry", "value"), rows)
    if outcomes:
        lines += ["", "## Stages", "", *stages_table(outcomes)]
    lines += ["", "## Metrics", ""]
    lines += _table(
        ("metric", "value"), [(k, format_value(v)) for k, v in flatten(metrics).items()]
    )
    return "\n".join(lines) + "\n"


def read_retrain_report(
    paths: ProjectPaths, mlflow_ui_url: str, outcomes: Sequence[Outcome] = ()
) -> str:
    """The report of the run whose outputs are under ``paths``."""
    documents = []
    for path, stage in ((paths.classifier_metrics, "train"), (paths.registry_receipt, "register")):
        if not path.is_file():
            raise BiomoeError(f"{path}: missing; the {stage} stage writes it (run the pipeline)")
        documents.append(json.loads(path.read_text()))
    metrics, receipt = documents
    if paths.registry_run.is_file():
        receipt = {**receipt, **json.loads(paths.registry_run.read_text())}
    report = retrain_report(metrics, receipt, mlflow_ui_url, outcomes)
    if paths.evaluation_report.is_file():
        report += "\n## Results table (evaluate stage)\n\n" + paths.evaluation_report.read_text()
    return report
