"""Physiological window features: right on simulated signals of known truth, NaN where they do
not apply, and NaN with a count (never an exception) where they cannot be computed."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from biomoe.corpus.params import SimulatedSourceParams
from biomoe.corpus.simulate import simulate_windows
from biomoe.physio.features import FEATURES, GENERIC, applicable, feature_table, window_features

FS = 100


@pytest.fixture(scope="module")
def simulated() -> dict[str, list[tuple[np.ndarray, float]]]:
    params = SimulatedSourceParams(
        signal_types=("ecg", "ppg", "rsp", "eda", "emg", "eeg"),
        windows_per_signal=6,
        snr_db=(25.0, 35.0),
        artefact_probability=0.0,
        transient_probability=0.0,
    )
    frame = simulate_windows(params, FS, 10.0, seed=3)
    found: dict[str, list[tuple[np.ndarray, float]]] = {}
    for signal, kind, rate in zip(
        frame["signal"], frame["signal_type"], frame["rate_hz"], strict=True
    ):
        found.setdefault(kind, []).append((np.asarray(signal), rate))
    return found


def _feature(windows: list[tuple[np.ndarray, float]], kind: str, name: str) -> np.ndarray:
    return np.array([window_features(signal, FS, kind)[0][name] for signal, _ in windows])


def test_heart_rate_of_ecg_and_ppg_follows_the_simulated_rate(simulated) -> None:
    for kind, tolerance in (("ecg", 0.03), ("ppg", 0.15)):
        truth = np.array([rate * 60 for _, rate in simulated[kind]])
        np.testing.assert_allclose(
            _feature(simulated[kind], kind, "heart_rate"), truth, rtol=tolerance
        )
    assert (_feature(simulated["ppg"], "ppg", "pulse_rise_time") > 0).all()


def test_breathing_rate_follows_the_simulated_rate(simulated) -> None:
    truth = np.array([rate * 60 for _, rate in simulated["rsp"]])
    found = _feature(simulated["rsp"], "rsp", "breathing_rate")
    assert np.isfinite(found).sum() >= 4  # a 10 s window holds one or two slow breaths
    assert np.nanmedian(np.abs(found - truth) / truth) < 0.1


def test_eeg_band_shares_and_eda_responses(simulated) -> None:
    values, failed = window_features(simulated["eeg"][0][0], FS, "eeg")
    shares = [values[f"eeg_{band}"] for band in ("delta", "theta", "alpha", "beta")]
    assert failed == () and sum(shares) == pytest.approx(1.0)
    eda = [window_features(signal, FS, "eda")[0] for signal, _ in simulated["eda"]]
    assert all(v["scr_rate"] >= 0 and np.isfinite(v["tonic_slope"]) for v in eda)


def test_features_that_do_not_apply_are_nan_and_not_failures(simulated) -> None:
    values, failed = window_features(simulated["ecg"][0][0], FS, "ecg")
    assert failed == ()
    for name in FEATURES:
        assert np.isfinite(values[name]) == (name in applicable("ecg")), name
    values, _ = window_features(simulated["ecg"][0][0], FS, "motion")  # a type with no detector
    assert {n for n in FEATURES if np.isfinite(values[n])} == set(GENERIC)


def test_amplitudes_do_not_depend_on_the_sensor_units(simulated) -> None:
    signal = simulated["ppg"][1][0]
    volts, _ = window_features(signal, FS, "ppg")
    millivolts, _ = window_features(signal * 1000.0 + 5.0, FS, "ppg")
    for name in ("pulse_amplitude", "amplitude_q05", "amplitude_q95", "heart_rate"):
        assert millivolts[name] == pytest.approx(volts[name], rel=1e-6), name


def test_windows_that_defeat_a_detector_are_counted_not_raised() -> None:
    flat = np.full(1000, 98.0)  # SpO2 holding at 98 %
    short = np.sin(np.arange(40) / 3.0)  # 0.4 s: no beat, no breath
    noisy = np.random.default_rng(0).normal(size=1000)
    table = feature_table([flat, short, noisy], [FS] * 3, ["ppg", "rsp", "ecg"])
    assert table.values.shape == (3, len(FEATURES))
    flat_row = table.values.loc[0]
    assert flat_row[[n for n in applicable("ppg") if n != "zero_crossing_rate"]].isna().all()
    assert flat_row["zero_crossing_rate"] == 0.0  # a flat trace never crosses its mean
    assert table.failed["heart_rate"] >= 1 and table.failed["spectral_entropy"] >= 1
    assert table.failed["scr_rate"] == 0  # no EDA window: never applicable, never failed


def test_a_detector_that_raises_is_a_counted_nan(
    simulated, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise IndexError("index 1 is out of bounds")

    monkeypatch.setattr(nk, "ecg_peaks", broken)
    signals = [signal for signal, _ in simulated["ecg"][:3]]
    table = feature_table(signals, [FS] * 3, ["ecg"] * 3)
    assert table.failed["heart_rate"] == table.failed["hrv_rmssd"] == 3
    assert table.values["heart_rate"].isna().all()
    assert table.values["spectral_entropy"].notna().all()  # the other groups still computed


def _pulses(beats_s: np.ndarray, heights: np.ndarray, seconds: float = 10.0) -> np.ndarray:
    """A pulse train: a 0.1 s Gaussian pulse of each height at each beat time."""
    t = np.arange(round(seconds * FS)) / FS
    pulses = zip(beats_s, heights, strict=True)
    return sum(h * np.exp(-0.5 * ((t - b) / 0.1) ** 2) for b, h in pulses)


def test_within_window_change_of_rate_and_pulse_amplitude() -> None:
    """A heart rate climbing 60 -> 90 bpm over 10 s (3 bpm/s) while pulses shrink by half."""
    beats, rate = [0.5], 60.0
    while beats[-1] < 9.5:
        rate = 60.0 + 3.0 * beats[-1]
        beats.append(beats[-1] + 60.0 / rate)
    beats_s = np.array(beats[:-1])
    heights = 1.0 - 0.05 * beats_s  # -5 % of the first pulse per second
    values, failed = window_features(_pulses(beats_s, heights), FS, "ppg")
    assert failed == ()
    assert values["heart_rate_slope"] == pytest.approx(3.0, rel=0.15)
    relative = -0.05 / float(np.mean(heights))
    assert values["pulse_amplitude_change"] == pytest.approx(relative, rel=0.2)
    steady, _ = window_features(_pulses(np.arange(0.5, 9.6, 1.0), np.ones(10)), FS, "ppg")
    assert abs(steady["heart_rate_slope"]) < 0.1 and abs(steady["pulse_amplitude_change"]) < 0.01


def test_trend_and_amplitude_change_of_any_signal() -> None:
    t = np.arange(1000) / FS
    growing = np.sin(2 * np.pi * t) * np.where(t < 5, 1.0, 2.0)
    values, _ = window_features(growing, FS, "motion")
    assert values["amplitude_change"] == pytest.approx(np.log(2.0), abs=0.05)
    rising, _ = window_features(growing + 0.5 * t, FS, "motion")
    assert rising["trend"] > values["trend"] + 1.0
    assert rising["amplitude_change"] == pytest.approx(np.log(2.0), abs=0.05)
    falling, _ = window_features(-(growing + 0.5 * t), FS, "motion")
    assert falling["trend"] == pytest.approx(-rising["trend"])
