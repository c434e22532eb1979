"""Fixtures for the embed and backbone-source tests: tiny images and checkpoints, the reference."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from biomoe.config import Params
from biomoe.imaging.shards import write_image_shards
from biomoe.model.checkpoint import save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_CHECKPOINT = "tiny_biomoe_seed0.pth"


def windows(n: int) -> pd.DataFrame:
    """``n`` distinct 8-second Bvp windows in the windows-table layout."""
    rng = np.random.default_rng(0)
    t = np.arange(800) / 100
    rows = [
        dict(
            window_id=f"S{i}/Baseline/Bvp",
            sample_id=f"S{i}/Baseline",
            subject=f"S{i}",
            split="train",
            segment="Baseline",
            label="No",
            modality="Bvp",
            fs=100,
            n_samples=800,
            signal=(np.sin(2 * np.pi * (0.5 + i) * t) + 0.1 * rng.standard_normal(800)).astype(
                np.float32
            ),
            source_file=f"train/Bvp/S{i}.csv",
        )
        for i in range(n)
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def make_windows() -> Callable[[int], pd.DataFrame]:
    return windows


@pytest.fixture(scope="session")
def reference_checkpoint() -> Path:
    """The published-architecture checkpoint (img_size 224) from ``../shared/reference``."""
    folder = Path(os.environ.get("BIOMOE_REFERENCE_DIR", REPO_ROOT / ".." / "shared" / "reference"))
    path = folder / REFERENCE_CHECKPOINT
    if not path.is_file():
        pytest.skip(f"reference file {path} is absent (set BIOMOE_REFERENCE_DIR to its folder)")
    return path


@pytest.fixture(scope="session")
def tiny_images(tmp_path_factory: pytest.TempPathFactory, tiny_params: Params) -> Path:
    """Image shards of 6 windows x 2 representations at the tiny size. Read only."""
    out = tmp_path_factory.mktemp("images") / "images"
    write_image_shards(windows(6), out, tiny_params.images, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, tiny_params: Params) -> Path:
    """A random Tiny-BioMoE checkpoint at the tiny image size. Read only."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "model.pth"
    return save_checkpoint(TinyBioMoE(img_size=tiny_params.images.size), path)


@pytest.fixture(scope="session")
def with_backbone() -> Callable[..., Params]:
    """``with_backbone(params, source="file", path=...)``: params with another embed.backbone."""

    def replace(params: Params, **source: Any) -> Params:
        data = params.model_dump(by_alias=True)
        data["embed"]["backbone"] = source
        return Params.model_validate(data)

    return replace
