"""One MLflow run per pipeline stage, logged to the project's tracking store."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow

SQLITE_PREFIX = "sqlite:///"


def resolve_tracking_uri(uri: str, root: Path) -> str:
    """Anchor a relative ``sqlite:///`` path at the project root; leave other URIs alone."""
    if uri.startswith(SQLITE_PREFIX) and not uri.startswith(SQLITE_PREFIX + "/"):
        db = (root / uri.removeprefix(SQLITE_PREFIX)).resolve()
        db.parent.mkdir(parents=True, exist_ok=True)
        return f"{SQLITE_PREFIX}{db}"
    return uri


def configure(tracking_uri: str, experiment: str, root: Path) -> str:
    """Point MLflow at the store and make sure the experiment exists; returns the resolved URI."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    resolved = resolve_tracking_uri(tracking_uri, root)
    mlflow.set_tracking_uri(resolved)
    if mlflow.get_experiment_by_name(experiment) is None:
        artifacts = None
        if resolved.startswith(SQLITE_PREFIX):
            artifact_dir = root / "mlflow" / "artifacts"
            artifact_dir.mkdir(parents=True, exist_ok=True)
            artifacts = artifact_dir.resolve().as_uri()
        with contextlib.suppress(mlflow.exceptions.MlflowException):
            mlflow.create_experiment(experiment, artifact_location=artifacts)
    mlflow.set_experiment(experiment)
    return resolved


@contextlib.contextmanager
def stage_run(
    stage: str,
    root: Path,
    tracking_uri: str,
    experiment: str,
    logged_params: Mapping[str, Any],
) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run named after the stage, in ``experiment`` of the store at
    ``tracking_uri``, with ``logged_params``; the body logs the metrics. A run left active by an
    attempt that lost the server while ending it is ended (FAILED) first, so a retry can start."""
    configure(tracking_uri, experiment, root)
    while mlflow.active_run() is not None:
        mlflow.end_run("FAILED")
    with mlflow.start_run(run_name=stage, tags={"biomoe.stage": stage}) as run:
        mlflow.log_params(dict(logged_params))
        yield run


def log_metrics(metrics: Mapping[str, float], prefix: str = "") -> None:
    mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in metrics.items()})
