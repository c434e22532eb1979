"""The demo generator: layout, determinism, padding, plausibility and the pain response."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.signal import find_peaks

from biomoe.config import Params
from biomoe.data import demo
from biomoe.data.demo import DemoSummary, generate_demo_dataset, subject_ids
from biomoe.data.params import MODALITIES, SPLITS, DemoParams


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _columns(path: Path) -> dict[str, np.ndarray]:
    frame = pd.read_csv(path)
    return {name: frame[name].to_numpy(dtype=np.float64) for name in frame.columns}


def _segments(raw: Path, split: str, modality: str) -> dict[str, dict[str, np.ndarray]]:
    return {p.stem: _columns(p) for p in sorted((raw / split / modality).glob("*.csv"))}


def test_layout_has_every_split_modality_and_subject(demo_raw: Path, tiny_params: Params) -> None:
    ids = subject_ids(tiny_params.demo)
    assert sorted(p.name for p in demo_raw.iterdir()) == sorted(SPLITS)
    for split in SPLITS:
        assert sorted(p.name for p in (demo_raw / split).iterdir()) == sorted(MODALITIES)
        for modality in MODALITIES:
            files = sorted(p.name for p in (demo_raw / split / modality).iterdir())
            assert files == [f"{s}.csv" for s in ids[split]]
    everyone = [s for split in SPLITS for s in ids[split]]
    assert len(everyone) == len(set(everyone)) == 7
    assert ids["train"] == ("S001", "S002", "S003", "S004")


def test_summary_counts_and_hash(demo_summary: DemoSummary, tiny_params: Params) -> None:
    params = tiny_params.demo
    n_subjects = 7
    segments_per_subject = 1 + params.n_low + params.n_high + (params.n_low + params.n_high - 1)
    assert demo_summary.n_files == n_subjects * len(MODALITIES)
    assert demo_summary.n_segments == n_subjects * segments_per_subject
    assert demo_summary.subjects == subject_ids(params)
    assert re.fullmatch(r"[0-9a-f]{64}", demo_summary.sha256)


def test_generation_is_byte_identical(demo_raw: Path, demo_summary: DemoSummary) -> None:
    first, second = _hashes(demo_raw), _hashes(demo_summary.out_dir)
    assert first == second
    assert len(first) == 28


def test_a_different_seed_gives_different_signals(tmp_path: Path, tiny_params: Params) -> None:
    params = tiny_params.demo.model_copy(update={"seed": tiny_params.demo.seed + 1})
    changed = generate_demo_dataset(tmp_path / "raw", params, tiny_params.ingest.fs)
    original = generate_demo_dataset(tmp_path / "raw0", tiny_params.demo, tiny_params.ingest.fs)
    assert changed.sha256 != original.sha256


def test_csv_format_is_fixed(demo_raw: Path) -> None:
    text = (demo_raw / "train" / "Eda" / "S001.csv").read_bytes()
    assert b"\r" not in text
    assert text.endswith(b"\n")
    number = re.compile(rb"^-?\d+\.\d{5}$")
    for line in text.splitlines()[1:50]:
        assert all(cell == b"" or number.match(cell) for cell in line.split(b","))


def test_columns_follow_the_session_schedule(demo_raw: Path, tiny_params: Params) -> None:
    params = tiny_params.demo
    for split in SPLITS:
        headers = {
            m: {s: list(cols) for s, cols in _segments(demo_raw, split, m).items()}
            for m in MODALITIES
        }
        for subject, names in headers["Bvp"].items():
            assert all(headers[m][subject] == names for m in MODALITIES)
            assert names[0] == "Baseline"
            stimuli = names[1::2]
            rests = names[2::2]
            assert sorted(stimuli) == sorted(
                [f"LOW_{i}" for i in range(1, params.n_low + 1)]
                + [f"HIGH_{i}" for i in range(1, params.n_high + 1)]
            )
            assert rests == [f"REST_{i}" for i in range(1, len(stimuli))]
            lows = [n for n in stimuli if n.startswith("LOW")]
            assert lows == sorted(lows, key=lambda n: int(n.split("_")[1]))


def test_stimulus_order_differs_between_subjects(response_raw: Path) -> None:
    orders = {tuple(cols) for cols in _segments(response_raw, "train", "Eda").values()}
    assert len(orders) > 5


def test_columns_are_nan_padded_to_the_longest(demo_raw: Path, tiny_params: Params) -> None:
    params = tiny_params.demo
    low = round((params.segment_seconds - params.segment_jitter_seconds) * tiny_params.ingest.fs)
    high = round((params.segment_seconds + params.segment_jitter_seconds) * tiny_params.ingest.fs)
    for columns in _segments(demo_raw, "train", "Resp").values():
        lengths = {}
        for name, values in columns.items():
            valid = np.flatnonzero(~np.isnan(values))
            assert valid.size == valid[-1] + 1, f"{name}: NaN inside the signal"
            lengths[name] = valid.size
        assert max(lengths.values()) == len(next(iter(columns.values())))
        assert len(set(lengths.values())) > 1
        assert all(low <= n <= high for name, n in lengths.items() if name != "Baseline")


def test_signals_are_physiologically_plausible(demo_raw: Path) -> None:
    for split in SPLITS:
        for modality in MODALITIES:
            for columns in _segments(demo_raw, split, modality).values():
                for name, values in columns.items():
                    x = values[~np.isnan(values)]
                    assert np.isfinite(x).all()
                    assert x.std() > 1e-6, f"{modality} {name} is flat"
                    if modality != "SpO2":
                        assert np.ptp(x[-50:]) > 0, f"{modality} {name} ends flat"
                    if modality == "SpO2":
                        assert x.min() >= 50.0 and x.max() <= 100.0
                        assert 90.0 < x.mean() < 100.0
                    if modality == "Eda":
                        assert x.min() >= 0.0
                        assert x.mean() < 30.0


def _heart_rate(bvp: np.ndarray, fs: int) -> float:
    x = bvp - bvp.mean()
    peaks, _ = find_peaks(x, distance=int(0.33 * fs), prominence=0.3 * x.std())
    return 60.0 * fs / float(np.median(np.diff(peaks)))


def _scr_rise(eda: np.ndarray, fs: int) -> float:
    return float(eda.max() - eda[: 2 * fs].min())


@pytest.fixture(scope="module")
def response_raw(tmp_path_factory: pytest.TempPathFactory, tiny_params: Params) -> Path:
    params = DemoParams.model_validate(
        {
            **tiny_params.demo.model_dump(),
            "subjects": {"train": 10, "validation": 1, "test": 1},
            "n_low": 3,
            "n_high": 3,
        }
    )
    out = tmp_path_factory.mktemp("response") / "raw"
    generate_demo_dataset(out, params, tiny_params.ingest.fs)
    return out


def _per_label_means(raw: Path, modality: str, feature, fs: int) -> pd.DataFrame:
    rows = []
    for subject, columns in _segments(raw, "train", modality).items():
        for name, values in columns.items():
            label = {"Baseline": "No", "LOW": "Low", "HIGH": "High"}.get(name.split("_")[0])
            if label:
                x = values[~np.isnan(values)]
                rows.append({"subject": subject, "label": label, "value": feature(x, fs)})
    return pd.DataFrame(rows).groupby(["subject", "label"])["value"].mean().unstack()


def test_pain_raises_heart_rate_with_intensity(response_raw: Path, tiny_params: Params) -> None:
    hr = _per_label_means(response_raw, "Bvp", _heart_rate, tiny_params.ingest.fs)
    means = hr.mean()
    assert means["No"] < means["Low"] < means["High"]
    assert (hr["High"] > hr["No"]).mean() >= 0.7


def test_pain_evokes_larger_skin_conductance_responses(
    response_raw: Path, tiny_params: Params
) -> None:
    rise = _per_label_means(response_raw, "Eda", _scr_rise, tiny_params.ingest.fs)
    means = rise.mean()
    assert means["No"] < means["Low"] < means["High"]
    assert (rise["High"] > rise["No"]).mean() >= 0.7


def test_pain_narrows_the_pulse(response_raw: Path, tiny_params: Params) -> None:
    def amplitude(x: np.ndarray, fs: int) -> float:
        return float(np.percentile(x, 95) - np.percentile(x, 5))

    amp = _per_label_means(response_raw, "Bvp", amplitude, tiny_params.ingest.fs).mean()
    assert amp["High"] < amp["Low"] < amp["No"]


def test_subjects_differ_in_their_resting_physiology(response_raw: Path) -> None:
    baseline_eda = [
        np.nanmean(columns["Baseline"])
        for columns in _segments(response_raw, "train", "Eda").values()
    ]
    assert np.std(baseline_eda) > 0.5


def test_failed_generation_keeps_the_previous_dataset(
    tmp_path: Path, tiny_params: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "raw"
    generate_demo_dataset(out, tiny_params.demo, tiny_params.ingest.fs)
    before = _hashes(out)
    calls = {"n": 0}
    real = demo._csv_bytes

    def crash_after_a_few(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(demo, "_csv_bytes", crash_after_a_few)
    params = tiny_params.demo.model_copy(update={"seed": 7})
    with pytest.raises(RuntimeError, match="disk full"):
        generate_demo_dataset(out, params, tiny_params.ingest.fs)
    assert _hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_regeneration_replaces_the_whole_tree(tmp_path: Path, tiny_params: Params) -> None:
    out = tmp_path / "raw"
    (out / "train" / "Bvp").mkdir(parents=True)
    (out / "train" / "Bvp" / "stale.csv").write_text("Baseline\n1\n")
    generate_demo_dataset(out, tiny_params.demo, tiny_params.ingest.fs)
    assert not (out / "train" / "Bvp" / "stale.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
