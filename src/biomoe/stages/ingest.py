"""ingest: data/raw (AI4PAIN layout) -> the windows table."""

from __future__ import annotations

from pathlib import Path

from biomoe.config import Params
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import log_metrics
from biomoe.stages.common import tracked


def run(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.data.ai4pain import ingest

    with tracked("ingest", params, paths, ("ingest",), tracking_uri):
        windows = ingest(paths.raw, paths.windows, params.ingest)
        log_metrics(
            {
                "windows": len(windows),
                "subjects": windows["subject"].nunique(),
                "samples": windows["sample_id"].nunique(),
            }
        )
    return paths.windows
