"""The embed step the embed stage and the evaluate stage's random-init control share."""

from __future__ import annotations

from pathlib import Path

from biomoe.config import Params
from biomoe.embed.extract import EmbedResult, embed_images
from biomoe.paths import ProjectPaths
from biomoe.scaleout.runners import Runner


def embed_into(
    params: Params, paths: ProjectPaths, backbone: Path, out_dir: Path, runner: Runner
) -> EmbedResult:
    """Every image of ``paths.images`` through ``backbone`` into the cache at ``out_dir``."""
    return embed_images(
        paths.images,
        backbone,
        out_dir,
        img_size=params.images.size,
        batch_size=params.embed.batch_size,
        engine=params.embed.engine,
        runner=runner,
    )
