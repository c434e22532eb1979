from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.unit.imaging.conftest import windows_table

from biomoe.config import Params
from biomoe.data.windows import WINDOW_COLUMNS, write_windows
from biomoe.errors import DataError
from biomoe.imaging import shards as shards_module
from biomoe.imaging.render import render_batch
from biomoe.imaging.shards import load_images, read_image_index, write_image_shards
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
        per_subject = windows.groupby("subject").size()
        assert len(shard_files) == sum(-(-n // params.shard_size) for n in per_subject)
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
    changed = windows.assign(signal=[s + 1.0 for s in windows["signal"]])
    with pytest.raises(RuntimeError, match="disk full"):
        write_image_shards(changed, out, tiny_params.images, progress=False)
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


def _rendered_ids(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the window ids every ``render_batch`` call of the shard writer renders."""
    seen: list[str] = []
    real = shards_module.render_batch

    def recording(*args: object, **kwargs: object) -> np.ndarray:
        seen.extend(kwargs["window_ids"])  # type: ignore[arg-type]
        return real(*args, **kwargs)

    monkeypatch.setattr(shards_module, "render_batch", recording)
    return seen


def test_a_new_subject_renders_only_its_own_windows(
    tmp_path: Path, tiny_params: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = tiny_params.images
    three = windows_table(n_subjects=3)
    two = three[~three["subject"].eq(three["subject"].max())]
    out = tmp_path / "images"
    write_image_shards(two, out, params, progress=False)
    kept = {p.relative_to(out): p.stat().st_ino for p in out.rglob("shard-*.npy")}

    rendered = _rendered_ids(monkeypatch)
    index = write_image_shards(three, out, params, progress=False)
    new_subject = set(three.loc[~three.index.isin(two.index), "window_id"])
    assert set(rendered) == new_subject
    assert len(rendered) == len(new_subject) * len(params.representations)
    for relative, inode in kept.items():
        assert (out / relative).stat().st_ino == inode, "unchanged shards are linked, not copied"

    monkeypatch.undo()
    write_image_shards(three, tmp_path / "fresh", params, progress=False)
    assert _files(out) == _files(tmp_path / "fresh")
    assert read_image_index(out).equals(index)


def test_changed_parameters_rerender_only_their_representation(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = tiny_params.images
    assert "spectrogram" in params.representations and "waveform" in params.representations
    out = tmp_path / "images"
    write_image_shards(windows, out, params, progress=False)
    rendered = _rendered_ids(monkeypatch)
    changed = params.model_copy(
        update={"spectrogram": params.spectrogram.model_copy(update={"top_db": 40.0})}
    )
    index = write_image_shards(windows, out, changed, progress=False)
    assert len(rendered) == len(windows)
    spectrograms = index[index["representation"] == "spectrogram"]
    expected = render_batch(
        list(windows.sort_values("window_id")["signal"]), 100, "spectrogram", changed
    )
    ordered = spectrograms.set_index("window_id").loc[sorted(windows["window_id"])].reset_index()
    np.testing.assert_array_equal(load_images(out, ordered), expected)


def test_a_damaged_previous_shard_is_rendered_again(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    out = tmp_path / "images"
    write_image_shards(windows, out, tiny_params.images, progress=False)
    reference = _files(out)
    victim = sorted(out.rglob("shard-*.npy"))[0]
    victim.write_bytes(victim.read_bytes()[:200])
    write_image_shards(windows, out, tiny_params.images, progress=False)
    assert _files(out) == reference


def test_a_parquet_file_gives_the_same_shards_as_the_table(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    table = windows.assign(
        sample_id=windows["window_id"],
        split="train",
        segment="x",
        n_samples=[len(s) for s in windows["signal"]],
    )[list(WINDOW_COLUMNS)]
    path = tmp_path / "windows.parquet"
    write_windows(table.sample(frac=1.0, random_state=1), path, row_group_size=5)
    write_image_shards(path, tmp_path / "from_file", tiny_params.images, progress=False)
    write_image_shards(windows, tmp_path / "from_table", tiny_params.images, progress=False)
    assert _files(tmp_path / "from_file") == _files(tmp_path / "from_table")
