"""Simulated windows: shape, truth recorded per window, determinism, variety, physiology."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biomoe.config import Params
from biomoe.corpus.params import SIMULATED_TYPES, SimulatedSourceParams
from biomoe.corpus.simulate import (
    SEED_CODES,
    SIMULATED_COLUMNS,
    TRANSIENT_AMPLITUDE_CHANGE,
    _transient,
    simulate_window,
    simulate_windows,
)
from biomoe.physio.features import window_features


@pytest.fixture(scope="module")
def sim(params: Params) -> SimulatedSourceParams:
    return params.corpus.simulated.model_copy(update={"windows_per_signal": 3})


@pytest.fixture(scope="module")
def windows(sim: SimulatedSourceParams) -> pd.DataFrame:
    return simulate_windows(sim, fs=100, window_seconds=10.0, seed=0)


def test_columns_shape_and_truth(windows: pd.DataFrame, sim: SimulatedSourceParams) -> None:
    assert tuple(windows.columns) == SIMULATED_COLUMNS
    assert list(windows["signal_type"]) == [t for t in sim.signal_types for _ in range(3)]
    assert windows["sample_id"].is_unique and windows["sample_id"].iloc[0] == "ecg-0000"
    assert windows["fs"].dtype == np.int64 and windows["start"].dtype == np.int64
    for signal in windows["signal"]:
        assert signal.dtype == np.float32 and signal.shape == (1000,)
        assert np.isfinite(signal).all() and signal.std() > 1e-4
    rhythmic = windows["signal_type"].isin(["ecg", "ppg", "rsp", "eeg"])
    assert windows.loc[rhythmic, "rate_hz"].notna().all()
    assert windows.loc[~rhythmic, "rate_hz"].isna().all()
    low, high = sim.snr_db
    assert (windows["snr_db"] <= high + 0.5).all() and windows["snr_db"].notna().all()
    assert (windows.loc[windows["artefact"].isna(), "snr_db"] >= low - 1.0).all()


def test_every_type_has_one_permanent_seed_code() -> None:
    """The codes that seed the corpus on disk (a new type would take the next free one)."""
    assert SEED_CODES == {"ecg": 0, "emg": 1, "ppg": 2, "rsp": 3, "eda": 4, "eeg": 5}
    assert set(SEED_CODES) == set(SIMULATED_TYPES)


def test_deterministic_and_seeded(windows: pd.DataFrame, sim: SimulatedSourceParams) -> None:
    again = simulate_windows(sim, fs=100, window_seconds=10.0, seed=0)
    pd.testing.assert_frame_equal(again.drop(columns="signal"), windows.drop(columns="signal"))
    assert all(
        np.array_equal(a, b) for a, b in zip(again["signal"], windows["signal"], strict=True)
    )
    other = simulate_windows(sim, fs=100, window_seconds=10.0, seed=1)
    assert not any(
        np.array_equal(a, b) for a, b in zip(other["signal"], windows["signal"], strict=True)
    )


def test_a_window_does_not_depend_on_the_other_types(
    windows: pd.DataFrame, sim: SimulatedSourceParams
) -> None:
    only_eeg = sim.model_copy(update={"signal_types": ("eeg",), "windows_per_signal": 2})
    eeg = simulate_windows(only_eeg, fs=100, window_seconds=10.0, seed=0)
    expected = windows[windows.signal_type == "eeg"]["signal"].iloc[:2]
    assert all(np.array_equal(a, b) for a, b in zip(eeg["signal"], expected, strict=True))


def test_noise_level_follows_the_drawn_snr() -> None:
    quiet = simulate_window("ppg", np.random.default_rng(5), 1000, 100, (30.0, 30.0), 0.0)
    noisy = simulate_window("ppg", np.random.default_rng(5), 1000, 100, (0.0, 0.0), 0.0)
    assert quiet.snr_db == pytest.approx(30.0, abs=1.0) and noisy.snr_db == pytest.approx(0, abs=1)
    assert np.std(np.diff(noisy.signal)) > 3 * np.std(np.diff(quiet.signal))
    with_artefact = simulate_window("eeg", np.random.default_rng(5), 1000, 100, (30.0, 30.0), 1.0)
    assert with_artefact.artefact in ("burst", "step", "blink") and with_artefact.snr_db < 30.0


def test_eeg_has_its_rhythm_at_the_recorded_rate(windows: pd.DataFrame) -> None:
    for _, row in windows[windows.signal_type == "eeg"].iterrows():
        x = row["signal"] - row["signal"].mean()
        freqs = np.fft.rfftfreq(x.size, 1 / 100)
        spectrum = np.abs(np.fft.rfft(x)) * freqs  # flatten the 1/f background
        band = (freqs > 3) & (freqs < 20)
        peak = freqs[band][np.argmax(spectrum[band])]
        assert peak == pytest.approx(row["rate_hz"], abs=1.0)


@pytest.mark.parametrize("signal_type", SIMULATED_TYPES)
def test_other_sampling_rates(signal_type: str) -> None:
    for fs in (64, 250):
        window = simulate_window(signal_type, np.random.default_rng(0), 3 * fs, fs)
        assert window.signal.shape == (3 * fs,) and np.isfinite(window.signal).all()


def test_signal_types_look_like_their_physiology(windows: pd.DataFrame) -> None:
    def dominant_hz(signal: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(signal - signal.mean(), 4096))
        freqs = np.fft.rfftfreq(4096, 1 / 100)
        band = freqs > 0.05
        return float(freqs[band][np.argmax(spectrum[band])])

    rsp = [dominant_hz(s) for s in windows[windows.signal_type == "rsp"]["signal"]]
    ppg = [dominant_hz(s) for s in windows[windows.signal_type == "ppg"]["signal"]]
    assert np.median(rsp) < 0.7 < np.median(ppg)
    assert all(s.min() > 0 for s in windows[windows.signal_type == "eda"]["signal"])


def test_short_breathmetrics_records_still_fill_the_window() -> None:
    for i in range(20):
        rng = np.random.default_rng([0, SEED_CODES["rsp"], i])
        window = simulate_window("rsp", rng, 1000, 100)
        assert window.signal.shape == (1000,) and np.ptp(window.signal[-100:]) > 0


def test_a_transient_plays_the_record_at_a_changing_rate() -> None:
    """A 1 Hz sine through a transient: its cycles at each end last 1 / the recorded rate."""
    fs = 100
    sine = np.sin(2 * np.pi * np.arange(30 * fs) / fs)
    for seed in range(5):
        warped, rate = _transient(np.random.default_rng(seed), sine, fs, amplitude=False)
        assert warped.size == rate.size <= sine.size  # a faster rhythm plays the record sooner
        rises = np.flatnonzero((warped[:-1] < 0) & (warped[1:] >= 0)) / fs
        assert np.diff(rises[:3]).mean() == pytest.approx(1 / rate[0], rel=0.02)
        assert np.diff(rises[-3:]).mean() == pytest.approx(1 / rate[-1], rel=0.02)
        assert np.max(np.abs(warped)) == pytest.approx(1.0, abs=1e-3)


def test_a_transient_changes_the_amplitude_when_asked() -> None:
    fs = 100
    sine = np.sin(2 * np.pi * np.arange(30 * fs) / fs)
    changes = []
    for seed in range(5):
        warped, _ = _transient(np.random.default_rng(seed), sine, fs, amplitude=True)
        changes.append(np.ptp(warped[-2 * fs :]) / np.ptp(warped[: 2 * fs]))
    low, high = 1 + np.array(TRANSIENT_AMPLITUDE_CHANGE)
    assert all(low - 0.02 < c < high + 0.02 for c in changes)
    assert max(abs(c - 1) for c in changes) > 0.05


@pytest.mark.parametrize("signal_type", ["ecg", "ppg", "rsp"])
def test_windows_with_transients_record_their_mean_rate(signal_type: str) -> None:
    """The heart rate a detector measures follows the recorded (window-mean) rate."""
    found, truth = [], []
    for i in range(6):
        window = simulate_window(signal_type, np.random.default_rng(i), 1000, 100, (30, 30), 0, 1)
        steady = simulate_window(signal_type, np.random.default_rng(i), 1000, 100, (30, 30), 0, 0)
        assert window.signal.shape == (1000,) and not np.array_equal(window.signal, steady.signal)
        if signal_type != "rsp":
            values, _ = window_features(window.signal, 100, signal_type)
            found.append(values["heart_rate"] / 60)
            truth.append(window.rate_hz)
    if found:
        assert np.median(np.abs(np.array(found) - truth) / truth) < 0.05
