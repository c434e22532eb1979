"""The corpus stage contract: manifest, tasks.json, images, summary; load_corpus; determinism;
user sources through readers; unavailable packaged datasets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests.unit.corpus.conftest import sine, with_corpus, write_ts

from biomoe.config import Params
from biomoe.corpus import sources
from biomoe.corpus.build import (
    CORPUS_WINDOWS_SCHEMA,
    FEATURE_COLUMNS,
    MANIFEST_SCHEMA,
    CorpusSummary,
    build_corpus,
    load_corpus,
)
from biomoe.corpus.packaged import PACKAGED, PackagedDataset
from biomoe.corpus.params import TASKS
from biomoe.errors import DataError
from biomoe.imaging.shards import load_images, read_image_index, write_image_shards
from biomoe.io import sha256_tree


def build(params: Params, out: Path, root: Path | None = None) -> CorpusSummary:
    """``build_corpus`` with the sections of ``params`` it takes, quietly."""
    return build_corpus(
        params.corpus, params.images, params.ingest.fs, out, root=root, progress=False
    )


@pytest.fixture(scope="module")
def user_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder with a labelled .ts dataset: two 12 s cases at 50 Hz, sines of 1.2 Hz
    and 0.3 Hz (read as ppg, whose rate band holds only the first)."""
    root = tmp_path_factory.mktemp("project")
    (root / "external").mkdir()
    cases = [([sine(50.0, 12.0, 1.2)], "fast"), ([sine(50.0, 12.0, 0.3)], "slow")]
    write_ts(root / "external" / "waves.ts", cases, ["fast", "slow"])
    return root


@pytest.fixture(scope="module")
def build_params(corpus_params: Params) -> Params:
    user = {
        "name": "waves",
        "path": "external/waves.ts",
        "format": "ts",
        "signal_type": "ppg",
        "fs": 50.0,
        "max_windows": 5,
    }
    return with_corpus(corpus_params, user=[user])


@pytest.fixture(scope="module")
def built(
    build_params: Params, user_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[CorpusSummary, Path]:
    out = tmp_path_factory.mktemp("corpus") / "corpus"
    return build(build_params, out, root=user_root), out


def test_manifest_contract(built: tuple[CorpusSummary, Path], build_params: Params) -> None:
    summary, out = built
    table = pq.read_table(out / "manifest.parquet")
    assert table.schema.equals(MANIFEST_SCHEMA, check_metadata=False)
    manifest = table.to_pandas()
    assert len(manifest) == summary.windows and manifest["sample_id"].is_unique
    cfg, fs = build_params.corpus, build_params.ingest.fs
    assert (manifest["fs"] == fs).all()
    assert (manifest["n_samples"] == round(fs * cfg.window_seconds)).all()
    assert set(manifest["source"]) >= {"simulated", "package:matplotlib", "user:waves"}
    simulated = manifest[manifest["source"] == "simulated"]
    assert len(simulated) == 2 * len(cfg.simulated.signal_types)
    assert not simulated["labels_estimated"].any() and simulated["snr_db"].notna().all()
    user = manifest[manifest["source"] == "user:waves"]
    assert list(user["source_file"].unique()) == ["external/waves.ts"]
    assert list(user["start"]) == [0, 0]  # one 10 s window per 12 s case, at the file's rate


def test_tasks_and_labels(built: tuple[CorpusSummary, Path], build_params: Params) -> None:
    _, out = built
    tasks = json.loads((out / "tasks.json").read_text())
    assert tuple(tasks) == tuple(sorted(TASKS))  # written with sorted keys
    assert tasks["representation"] == list(build_params.images.representations)
    assert tasks["dataset_label"] == sorted(tasks["dataset_label"])
    assert {"waves:fast", "waves:slow"} <= set(tasks["dataset_label"])
    assert tasks["signal_type"][:6] == ["ecg", "emg", "eeg", "ppg", "rsp", "eda"]
    manifest = pd.read_parquet(out / "manifest.parquet")
    for task in ("signal_type", "rate_bin", "quality_bin", "dataset_label"):
        ids = manifest[f"task_{task}"]
        assert ids.dtype == np.int64 and ids.between(-1, len(tasks[task]) - 1).all()
    user = manifest[manifest["dataset"] == "waves"]
    named = dict(zip(user["task_dataset_label"], user["rate_hz"], strict=True))
    named = {tasks["dataset_label"][i]: rate for i, rate in named.items()}
    assert set(named) == {"waves:fast", "waves:slow"}
    assert named["waves:fast"] == pytest.approx(1.2, rel=0.05)
    assert np.isnan(named["waves:slow"])  # 0.3 Hz lies outside the ppg rate band: no label
    types = manifest.set_index("sample_id")["task_signal_type"]
    assert tasks["signal_type"][types["simulated/eeg-0000"]] == "eeg"
    eda = manifest[manifest["signal_type"] == "eda"]
    assert (eda["task_rate_bin"] == -1).all() and (eda["task_quality_bin"] >= 0).all()


def test_images_and_load_corpus(built: tuple[CorpusSummary, Path], build_params: Params) -> None:
    summary, out = built
    data = load_corpus(out)
    reps = build_params.images.representations
    assert len(data.index) == summary.images == summary.windows * len(reps)
    assert set(data.index["window_id"]) == set(data.manifest["sample_id"])
    expected = ["window_id", "representation", "shard", "row", "sha256"]
    tasks = [f"task_{t}" for t in TASKS]
    assert list(data.index.columns) == expected + tasks + list(FEATURE_COLUMNS)
    assert list(data.classes) == list(TASKS)
    assert (data.index["task_representation"] == data.index["representation"].map(reps.index)).all()
    images = load_images(data.images_dir, data.index.head(3))
    size = build_params.images.size
    assert images.shape == (3, 3, size, size) and images.dtype == np.uint8
    stored = json.loads((out / "summary.json").read_text())
    assert stored["windows"] == summary.windows and stored["images"] == summary.images
    labels = stored["tasks"]["dataset_label"]
    assert labels["waves:fast"] == labels["waves:slow"] == 1
    assert sum(labels.values()) == summary.windows


def test_byte_identical_twice(
    built: tuple[CorpusSummary, Path], build_params: Params, user_root: Path, tmp_path: Path
) -> None:
    summary, out = built
    again = build(build_params, tmp_path / "again", root=user_root)
    assert again.sha256 == summary.sha256 == sha256_tree(out) == sha256_tree(tmp_path / "again")


def test_load_corpus_refuses_missing_or_incomplete(
    built: tuple[CorpusSummary, Path], tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="corpus file not found"):
        load_corpus(tmp_path / "nowhere")
    partial = tmp_path / "partial"
    shutil.copytree(built[1], partial)
    (partial / "tasks.json").unlink()
    with pytest.raises(DataError, match="corpus file not found") as caught:
        load_corpus(partial)
    assert caught.value.file.endswith("tasks.json")


def test_unavailable_package_is_skipped_or_required(
    corpus_params: Params, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ghost = PackagedDataset("ghost", "biomoe_no_such_package", ("x.dat",), "eeg", lambda _: [])
    monkeypatch.setitem(PACKAGED, "ghost", ghost)
    params = with_corpus(
        corpus_params,
        simulated={"signal_types": ["eda"], "windows_per_signal": 1},
        packaged={"datasets": ["ghost"]},
    )
    summary = build(params, tmp_path / "c")
    assert summary.windows == 1
    assert summary.unavailable["ghost"].startswith("package 'biomoe_no_such_package' is not")
    assert summary.metrics()["corpus_sources_unavailable"] == 1.0
    required = with_corpus(params, packaged={"required": True})
    with pytest.raises(DataError, match="packaged dataset 'ghost' is unavailable"):
        build(required, tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_every_window_carries_its_physiological_features(
    built: tuple[CorpusSummary, Path],
) -> None:
    """Features come from the raw window: a simulated ECG's heart rate is its true rate (where
    its SNR lets a detector see the beats), EEG band shares sum to 1, a feature that does not
    apply is NaN, and the summary counts them."""
    summary, out = built
    manifest = load_corpus(out).manifest.set_index("sample_id")
    ecg = manifest[(manifest["signal_type"] == "ecg") & (manifest["source"] == "simulated")]
    clear = ecg[ecg["snr_db"] > 10]
    assert len(clear) > 0
    np.testing.assert_allclose(clear["morph_heart_rate"], clear["rate_hz"] * 60, rtol=0.05)
    assert ecg["morph_breathing_rate"].isna().all() and ecg["morph_scr_rate"].isna().all()
    eeg = manifest[manifest["signal_type"] == "eeg"]
    bands = eeg[[f"morph_eeg_{b}" for b in ("delta", "theta", "alpha", "beta")]].sum(axis=1)
    np.testing.assert_allclose(bands, 1.0)
    assert manifest["morph_spectral_entropy"].notna().all()
    counts = json.loads((out / "summary.json").read_text())["features"]
    for feature, count in counts.items():
        assert count["computed"] + count["failed"] == count["applicable"], feature
        assert count["computed"] == manifest[f"morph_{feature}"].notna().sum(), feature
    assert summary.metrics()["features_failed"] == sum(c["failed"] for c in counts.values())


def test_windows_file_holds_the_samples_the_images_were_drawn_from(
    built: tuple[CorpusSummary, Path], build_params: Params
) -> None:
    """``windows.parquet`` is an imaging windows table of every manifest window: rendering it
    again gives the corpus's images byte for byte."""
    _, out = built
    windows = pq.read_table(out / "windows.parquet")
    assert windows.schema.equals(CORPUS_WINDOWS_SCHEMA, check_metadata=False)
    manifest = load_corpus(out).manifest.set_index("sample_id")
    frame = windows.to_pandas().set_index("window_id")
    assert sorted(frame.index) == sorted(manifest.index)
    assert (frame["modality"] == manifest.loc[frame.index, "signal_type"]).all()
    assert (frame["label"] == manifest.loc[frame.index, "dataset"]).all()
    assert [len(s) for s in frame["signal"]] == list(manifest.loc[frame.index, "n_samples"])
    again = write_image_shards(
        out / "windows.parquet", out.parent / "again", build_params.images, progress=False
    )
    assert list(again["sha256"]) == list(read_image_index(out / "images")["sha256"])


def test_streamed_in_small_chunks_the_corpus_is_the_same(
    built: tuple[CorpusSummary, Path],
    build_params: Params,
    user_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks of 3 windows (row groups of 3, shards read across them) change no byte but the
    windows file's row groups."""
    _, out = built
    monkeypatch.setattr(sources, "CHUNK_WINDOWS", 3)
    build(build_params, tmp_path / "small", root=user_root)
    assert pq.ParquetFile(tmp_path / "small" / "windows.parquet").metadata.num_row_groups > 5
    for name in ("manifest.parquet", "tasks.json", "summary.json", "images/index.parquet"):
        assert (tmp_path / "small" / name).read_bytes() == (out / name).read_bytes(), name
    streamed = pq.read_table(tmp_path / "small" / "windows.parquet")
    assert streamed.equals(pq.read_table(out / "windows.parquet"))
