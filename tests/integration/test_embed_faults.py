"""The embed stage killed with SIGKILL mid-run: the re-run computes only what was lost and ends
with the embeddings of an uninterrupted run; damaged cache parts are never trusted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.unit.imaging.conftest import windows_table

from biomoe.config import Params
from biomoe.embed.extract import CACHE_DIR, embed_images
from biomoe.imaging.shards import write_image_shards
from biomoe.model.checkpoint import save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE

pytestmark = pytest.mark.slow

SIZE = 64
EMBED = """
import sys
from pathlib import Path
from biomoe.embed.extract import embed_images
embed_images(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), {size}, 2, progress=False)
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, tiny_params: Params) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("embed-faults")
    params = tiny_params.images.model_copy(update={"size": SIZE, "shard_size": 2})
    write_image_shards(windows_table(n_subjects=6), root / "images", params, progress=False)
    torch.manual_seed(0)
    return root / "images", save_checkpoint(TinyBioMoE(img_size=SIZE), root / "model.pth")


def _parts(out: Path) -> list[Path]:
    return sorted((out / CACHE_DIR).rglob("part-*.npy"))


def test_sigkill_mid_run_then_rerun_equals_an_uninterrupted_run(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    images, backbone = inputs
    reference = embed_images(images, backbone, tmp_path / "whole", SIZE, 2, progress=False)

    out = tmp_path / "killed"
    script = EMBED.format(size=SIZE)
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(images), str(backbone), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while len(_parts(out)) < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()  # type: ignore[union-attr]
    assert not (out / "embeddings.parquet").exists()
    survived = _parts(out)
    total_jobs = len(_parts(tmp_path / "whole"))
    assert 4 <= len(survived) < total_jobs, "killed mid-run"

    damaged = survived[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    (damaged.parent / "part-0000000000000000.npy").write_bytes(b"not a cache part")
    cached_before = 2 * (len(survived) - 1)

    rerun = embed_images(images, backbone, out, SIZE, 2, progress=False)
    assert rerun.n_computed == reference.n_computed - cached_before
    assert (out / "embeddings.parquet").read_bytes() == reference.table.read_bytes()
    assert np.load(damaged).shape == (2,), "the damaged part was written again"

    again = embed_images(images, backbone, out, SIZE, 2, progress=False)
    assert again.n_computed == 0
