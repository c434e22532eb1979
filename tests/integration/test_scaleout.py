"""Image and embedding shards give the same bytes on every runner: inline, a process pool, and
a real 2-worker Dask ``LocalCluster`` (what ``scaleout.runner: dask`` starts)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from distributed import get_task_stream
from tests.unit.imaging.conftest import windows_table

from biomoe.config import Params
from biomoe.data.windows import WINDOW_COLUMNS, write_windows
from biomoe.embed.extract import embed_images
from biomoe.imaging.shards import write_image_shards
from biomoe.model.checkpoint import save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.scaleout.params import DaskRunnerParams
from biomoe.scaleout.runners import DaskRunner, LocalRunner, Runner

pytestmark = pytest.mark.slow


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def windows_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    windows = windows_table(n_subjects=4)
    table = windows[list(WINDOW_COLUMNS)]
    path = tmp_path_factory.mktemp("windows") / "windows.parquet"
    write_windows(table, path, row_group_size=7)
    return path


@pytest.fixture(scope="module")
def backbone(tmp_path_factory: pytest.TempPathFactory, tiny_params: Params) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("backbone") / "model.pth"
    return save_checkpoint(TinyBioMoE(img_size=tiny_params.images.size), path)


def _run(runner: Runner, windows_file: Path, backbone: Path, out: Path, params: Params) -> None:
    images = out / "images"
    write_image_shards(windows_file, images, params.images, progress=False, runner=runner)
    result = embed_images(
        images,
        backbone,
        out / "embeddings",
        img_size=params.images.size,
        batch_size=4,
        engine=params.embed.engine,
        runner=runner,
        progress=False,
    )
    assert result.n_computed == result.n_images > 0


def test_local_processes_and_a_dask_cluster_match_the_inline_runner(
    windows_file: Path, backbone: Path, tiny_params: Params, tmp_path: Path
) -> None:
    params = tiny_params.model_copy(
        update={"images": tiny_params.images.model_copy(update={"shard_size": 5})}
    )
    _run(LocalRunner(progress=False), windows_file, backbone, tmp_path / "inline", params)
    reference = _files(tmp_path / "inline")
    assert sum(name.endswith(".npy") and "/shard-" in name for name in reference) > 4

    _run(
        LocalRunner("processes", workers=2, progress=False),
        windows_file,
        backbone,
        tmp_path / "processes",
        params,
    )
    assert _files(tmp_path / "processes") == reference

    dask = DaskRunner(
        DaskRunnerParams(address=None, n_workers=2, threads_per_worker=1), progress=False
    )
    try:
        assert len(dask.client.scheduler_info()["workers"]) == 2
        with get_task_stream(dask.client) as stream:
            _run(dask, windows_file, backbone, tmp_path / "dask", params)
    finally:
        dask.close()
    assert _files(tmp_path / "dask") == reference
    ran = {(t["key"].split("-")[0], t["worker"]) for t in stream.data}
    assert {name for name, _ in ran} == {"render_shard", "embed_shard"}
    assert len({worker for _, worker in ran}) == 2, "both workers took shards"
