"""``biomoe demo-data``: the deterministic demo dataset into data/raw (tracked by data.dvc)."""

from __future__ import annotations

from pathlib import Path

from biomoe.config import Params
from biomoe.paths import ProjectPaths


def run(params: Params, paths: ProjectPaths) -> Path:
    from biomoe.data.demo import generate_demo_dataset

    generate_demo_dataset(paths.raw, params.demo, params.ingest.fs)
    return paths.raw
