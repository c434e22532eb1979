"""validate: the windows table against every rule; the report, then a failure if any broke."""

from __future__ import annotations

from pathlib import Path

import mlflow

from biomoe.config import Params
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import log_metrics
from biomoe.stages.common import tracked


def run(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    """Raises ``ValidationFailed`` (after writing the report) when any rule is broken."""
    from biomoe.validation.report import require_valid
    from biomoe.validation.runner import validate_windows

    with tracked("validate", params, paths, ("validate",), tracking_uri):
        report = validate_windows(
            paths.windows, paths.validation_report, params.validate, params.ingest.fs
        )
        log_metrics({"success": float(report.success), "failures": len(report.failures)})
        mlflow.log_artifact(str(paths.validation_report / "summary.json"), "validation")
    require_valid(report)
    return paths.validation_report
