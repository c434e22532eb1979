from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biomoe.config import Params
from biomoe.errors import DataError
from biomoe.imaging import load_images, read_image_index, render_batch, write_image_shards
from biomoe.imaging import shards as shards_module
from biomoe.io import sha256_tree


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_index_addresses_the_right_images(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    params = tiny_params.images
    out = tmp_path / "images"
    index = write_image_shards(windows, out, params, progress=False)

    assert list(index.columns) == ["window_id", "representation", "shard", "row", "sha256"]
    assert index["row"].dtype == np.int64
    assert len(index) == len(windows) * len(params.representations)
    assert index.equals(index.sort_values(["representation", "window_id"]).reset_index(drop=True))
    assert read_image_index(out).equals(index)

    ordered = windows.sort_values("window_id")
    for representation in params.representations:
        shard_files = sorted((out / representation).glob("shard-*.npy"))
        assert len(shard_files) == -(-len(windows) // params.shard_size)
        assert all(np.load(f, mmap_mode="r").shape[0] <= params.shard_size for f in shard_files)
        rows = index[index["representation"] == representation]
        expected = render_batch(list(ordered["signal"]), 100, representation, params)
        np.testing.assert_array_equal(load_images(out, rows), expected)
        digests = [hashlib.sha256(image.tobytes()).hexdigest() for image in expected]
        assert rows["sha256"].tolist() == digests


def test_load_images_follows_the_order_of_the_rows_asked(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    index = write_image_shards(windows, tmp_path / "images", tiny_params.images, progress=False)
    shuffled = index.sample(frac=1.0, random_state=0)
    images = load_images(tmp_path / "images", shuffled)
    assert [hashlib.sha256(i.tobytes()).hexdigest() for i in images] == shuffled["sha256"].tolist()


def test_output_is_byte_identical_and_independent_of_row_order(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    write_image_shards(windows, tmp_path / "a", tiny_params.images, progress=False)
    shuffled = windows.sample(frac=1.0, random_state=3).reset_index(drop=True)
    write_image_shards(shuffled, tmp_path / "b", tiny_params.images, progress=True)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_a_failure_midway_keeps_the_previous_output(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "images"
    write_image_shards(windows, out, tiny_params.images, progress=False)
    before = sha256_tree(out)

    calls = {"n": 0}
    real = shards_module.render_batch

    def failing(*args: object, **kwargs: object) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(shards_module, "render_batch", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        write_image_shards(windows.head(20), out, tiny_params.images, progress=False)
    assert sha256_tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images"], "no temp dirs left behind"


def test_success_replaces_the_whole_directory(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    out = tmp_path / "images"
    write_image_shards(windows, out, tiny_params.images, progress=False)
    (out / "stale.txt").write_text("from an older run")
    index = write_image_shards(windows.head(5), out, tiny_params.images, progress=False)
    assert not (out / "stale.txt").exists()
    assert len(read_image_index(out)) == len(index) == 5 * len(tiny_params.images.representations)


def test_empty_table_writes_an_empty_index(tmp_path: Path, tiny_params: Params) -> None:
    empty = pd.DataFrame({"window_id": [], "fs": [], "signal": []})
    index = write_image_shards(empty, tmp_path / "images", tiny_params.images, progress=False)
    assert index.empty and list(index.columns) == list(read_image_index(tmp_path / "images"))


def test_bad_tables_are_rejected_with_the_column_named(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    with pytest.raises(DataError, match=r"'signal'.*lacks a required column"):
        write_image_shards(windows.drop(columns="signal"), tmp_path / "x", tiny_params.images)
    twice = pd.concat([windows.head(2), windows.head(1)], ignore_index=True)
    with pytest.raises(DataError, match=r"S00\.csv.*'window_id'.*unique"):
        write_image_shards(twice, tmp_path / "x", tiny_params.images)
    assert not (tmp_path / "x").exists()


def test_missing_index_and_bad_rows_raise(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    with pytest.raises(DataError, match="image index not found"):
        read_image_index(tmp_path / "nowhere")
    index = write_image_shards(windows.head(3), tmp_path / "images", tiny_params.images)
    with pytest.raises(DataError, match="out of range"):
        load_images(tmp_path / "images", index.head(1).assign(row=99))
