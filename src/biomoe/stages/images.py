"""images: every window in every representation, into content-addressed shards."""

from __future__ import annotations

from pathlib import Path

import mlflow

from biomoe.config import Params
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import log_metrics
from biomoe.scaleout.runners import Runner
from biomoe.stages.sharded import sharded


def run(
    params: Params,
    paths: ProjectPaths,
    tracking_uri: str | None = None,
    runner: Runner | None = None,
) -> Path:
    """Shards run on ``runner`` (default: the one ``scaleout`` in params names)."""
    from biomoe.imaging.shards import shards_of, write_image_shards

    with sharded("images", params, paths, tracking_uri, runner) as shard_runner:
        had = shards_of(paths.images)
        index = write_image_shards(
            paths.windows,
            paths.images,
            params.images,
            gallery_dir=paths.plots / "images",
            runner=shard_runner,
        )
        shards = set(index["shard"])
        rendered = len(shards - had)
        print(f"images: rendered {rendered} of {len(shards)} shards ({shard_runner.name})")
        log_metrics({"images": len(index), "shards": len(shards), "shards_rendered": rendered})
        mlflow.set_tag("runner", shard_runner.name)
        mlflow.log_artifacts(str(paths.plots / "images"), "gallery")
    return paths.images
