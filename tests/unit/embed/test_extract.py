from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from biomoe.config import Params
from biomoe.embed.extract import embed_images, read_embeddings
from biomoe.imaging.shards import load_images, read_image_index, write_image_shards
from biomoe.model.checkpoint import save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE


def _windows(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        t = np.arange(800) / 100
        signal = np.sin(2 * np.pi * (0.5 + i) * t) + 0.1 * rng.standard_normal(800)
        rows.append(
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
                signal=signal.astype(np.float32),
                source_file=f"train/Bvp/S{i}.csv",
            )
        )
    return pd.DataFrame(rows)


@pytest.fixture()
def images_and_backbone(tmp_path: Path, tiny_params: Params) -> tuple[Path, Path]:
    images = tmp_path / "images"
    write_image_shards(_windows(6), images, tiny_params.images, progress=False)
    torch.manual_seed(0)
    backbone = tmp_path / "model.pth"
    save_checkpoint(TinyBioMoE(img_size=tiny_params.images.size), backbone)
    return images, backbone


def test_second_run_computes_nothing(
    images_and_backbone: tuple[Path, Path], tmp_path: Path, tiny_params: Params
) -> None:
    images, backbone = images_and_backbone
    out = tmp_path / "embeddings"
    size = tiny_params.images.size
    first = embed_images(images, backbone, out, img_size=size, batch_size=4, progress=False)
    assert first.n_images == 12 and first.n_computed == 12
    table = (out / "embeddings.parquet").read_bytes()
    second = embed_images(images, backbone, out, img_size=size, batch_size=4, progress=False)
    assert second.n_computed == 0
    assert (out / "embeddings.parquet").read_bytes() == table


def test_embeddings_are_the_backbone_outputs(
    images_and_backbone: tuple[Path, Path], tmp_path: Path, tiny_params: Params
) -> None:
    images, backbone = images_and_backbone
    size = tiny_params.images.size
    index = read_image_index(images)
    model = TinyBioMoE(img_size=size)
    model.load_state_dict(torch.load(backbone, weights_only=True)["model_state_dict"])
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(load_images(images, index)).float() / 255)
    for engine in ("eager", "fast", "threaded"):
        result = embed_images(
            images,
            backbone,
            tmp_path / engine,
            img_size=size,
            batch_size=5,
            engine=engine,
            progress=False,
        )
        table = read_embeddings(result.table)
        assert list(table["window_id"]) == list(index["window_id"])
        np.testing.assert_allclose(np.stack(table["embedding"]), expected.numpy(), atol=1e-4)


def test_new_backbone_recomputes(
    images_and_backbone: tuple[Path, Path], tmp_path: Path, tiny_params: Params
) -> None:
    images, backbone = images_and_backbone
    out = tmp_path / "embeddings"
    size = tiny_params.images.size
    embed_images(images, backbone, out, img_size=size, batch_size=8, progress=False)
    torch.manual_seed(1)
    other = tmp_path / "other.pth"
    save_checkpoint(TinyBioMoE(img_size=size), other)
    assert (
        embed_images(images, other, out, img_size=size, batch_size=8, progress=False).n_computed
        == 12
    )
