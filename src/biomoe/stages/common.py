"""What every stage shares: its MLflow run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import mlflow

from biomoe.config import Params
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import stage_run


@contextlib.contextmanager
def tracked(
    stage: str,
    params: Params,
    paths: ProjectPaths,
    sections: tuple[str, ...],
    tracking_uri: str | None,
) -> Iterator[mlflow.ActiveRun]:
    """The stage's MLflow run (``tracking_uri``, else ``register.tracking_uri``), logging the
    params of ``sections``."""
    uri = tracking_uri or params.register.tracking_uri
    with stage_run(
        stage, paths.root, uri, params.register.experiment, params.logged(*sections)
    ) as run:
        yield run
