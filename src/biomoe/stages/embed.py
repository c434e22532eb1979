"""embed: every image through the backbone ``embed.backbone`` names, into the embedding cache."""

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
    """A bad backbone writes nothing."""
    from biomoe.embed.extract import embed_images
    from biomoe.registry.source import resolve_backbone

    with sharded("embed", params, paths, tracking_uri, runner) as shard_runner:
        backbone = resolve_backbone(
            params.embed.backbone,
            paths,
            params.images.size,
            tracking_uri or params.register.tracking_uri,
        )
        result = embed_images(
            paths.images,
            backbone.path,
            paths.embeddings,
            img_size=params.images.size,
            batch_size=params.embed.batch_size,
            engine=params.embed.engine,
            runner=shard_runner,
        )
        mlflow.set_tags(
            {
                "backbone_sha256": result.backbone_sha256,
                "backbone_source": backbone.description,
                "runner": shard_runner.name,
            }
        )
        print(f"embed: computed {result.n_computed} of {result.n_images} embeddings")
        log_metrics({"images": result.n_images, "computed": result.n_computed})
    return result.table
