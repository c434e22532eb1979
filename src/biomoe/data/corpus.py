"""Simulated pretraining corpus: windows of ECG, EMG, PPG, respiration and EDA from neurokit2.

Each window draws its own rate, morphology, noise level, baseline wander and (sometimes) motion
artefacts. Window ``i`` of a signal type is simulated from the seed sequence
``[seed, type code, i]``, so it does not depend on which other types or how many windows are
asked for. Signals are simulated at a rate each simulator handles well (ECG 250 Hz, EMG 1 kHz)
and resampled to ``params.fs`` with an anti-aliasing polyphase filter; each window is cut from
a longer record at a random offset, away from the simulators' edge effects.
"""

from __future__ import annotations

from collections.abc import Callable
from math import gcd

import neurokit2 as nk
import numpy as np
import pandas as pd
from scipy.signal import resample_poly

from biomoe.config import CorpusParams

SIGNAL_TYPES: tuple[str, ...] = ("ecg", "emg", "ppg", "rsp", "eda")
"""Every type the corpus knows; a type's position is its code in the seed sequence."""

CORPUS_COLUMNS: tuple[str, ...] = ("sample_id", "signal_type", "fs", "signal")

_NATIVE_FS: dict[str, int] = {"ecg": 250, "emg": 1000, "ppg": 100, "rsp": 50, "eda": 50}
_MAX_SEED = 2**31 - 1
_ARTEFACT_PROBABILITY = 0.2

Simulator = Callable[[np.random.Generator, int, int], np.ndarray]


def simulate_corpus(params: CorpusParams, seed: int) -> pd.DataFrame:
    """``windows_per_signal`` windows per type in ``params.signal_types``, in that order.

    Columns: ``sample_id`` (``<type>-<nnnn>``), ``signal_type``, ``fs`` (int64) and ``signal``
    (float32 array of ``round(window_seconds * fs)`` samples).
    """
    n_samples = round(params.window_seconds * params.fs)
    rows: list[dict[str, object]] = []
    for signal_type in params.signal_types:
        code = SIGNAL_TYPES.index(signal_type)
        for i in range(params.windows_per_signal):
            rng = np.random.default_rng([seed, code, i])
            signal = simulate_window(signal_type, rng, n_samples, params.fs)
            rows.append(
                {
                    "sample_id": f"{signal_type}-{i:04d}",
                    "signal_type": signal_type,
                    "fs": params.fs,
                    "signal": signal,
                }
            )
    frame = pd.DataFrame(rows, columns=list(CORPUS_COLUMNS))
    frame["fs"] = frame["fs"].astype(np.int64)
    return frame


def simulate_window(
    signal_type: str, rng: np.random.Generator, n_samples: int, fs: int
) -> np.ndarray:
    """One float32 window of ``n_samples`` at ``fs``, every random choice drawn from ``rng``."""
    sim_fs = max(fs, _NATIVE_FS[signal_type])
    seconds = int(np.ceil(n_samples / fs)) + 3
    raw = _SIMULATORS[signal_type](rng, seconds, sim_fs)
    raw = raw + _wander(rng, raw.size, sim_fs, scale=float(np.std(raw)))
    if sim_fs != fs:
        common = gcd(sim_fs, fs)
        raw = resample_poly(raw, fs // common, sim_fs // common)
    if raw.size <= n_samples + 2 * fs:
        raise RuntimeError(f"{signal_type} simulator returned {raw.size} samples, too few")
    offset = int(rng.integers(fs, raw.size - n_samples - fs))
    window = raw[offset : offset + n_samples]
    if rng.random() < _ARTEFACT_PROBABILITY:
        window = _motion_artefact(rng, window, fs)
    gain = np.exp(rng.normal(0.0, 0.3))
    return (gain * window).astype(np.float32)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(_MAX_SEED))


def _ecg(rng: np.random.Generator, seconds: int, fs: int) -> np.ndarray:
    """ECGSYN with jittered wave timings and amplitudes (P, Q, R, S, T), varied rate and HRV."""
    ti = np.array([-70.0, -15.0, 0.0, 15.0, 100.0]) + rng.normal(0.0, [6.0, 2.0, 0.0, 2.0, 8.0])
    ai = np.array([1.2, -5.0, 30.0, -7.5, 0.75]) * np.exp(rng.normal(0.0, 0.25, 5))
    signal = nk.ecg_simulate(
        duration=seconds,
        sampling_rate=fs,
        heart_rate=rng.uniform(45.0, 140.0),
        heart_rate_std=rng.uniform(0.5, 6.0),
        noise=rng.uniform(0.0, 0.08),
        method="ecgsyn",
        random_state=_seed(rng),
        ti=tuple(ti),
        ai=tuple(ai),
    )
    return -signal if rng.random() < 0.1 else signal


def _emg(rng: np.random.Generator, seconds: int, fs: int) -> np.ndarray:
    return nk.emg_simulate(
        duration=seconds,
        sampling_rate=fs,
        noise=rng.uniform(0.005, 0.05),
        burst_number=int(rng.integers(0, 5)),
        burst_duration=rng.uniform(0.3, 2.0),
        random_state=_seed(rng),
    )


def _ppg(rng: np.random.Generator, seconds: int, fs: int) -> np.ndarray:
    return nk.ppg_simulate(
        duration=seconds,
        sampling_rate=fs,
        heart_rate=rng.uniform(50.0, 130.0),
        frequency_modulation=rng.uniform(0.0, 0.4),
        ibi_randomness=rng.uniform(0.0, 0.25),
        drift=rng.uniform(0.0, 0.5),
        motion_amplitude=rng.uniform(0.0, 0.3),
        powerline_amplitude=0.0,
        burst_number=int(rng.integers(0, 3)),
        burst_amplitude=rng.uniform(0.2, 1.0),
        random_state=_seed(rng),
    )


def _rsp(rng: np.random.Generator, seconds: int, fs: int) -> np.ndarray:
    """Twice the duration asked for: breathmetrics builds whole breaths and may stop short."""
    return nk.rsp_simulate(
        duration=2 * seconds,
        sampling_rate=fs,
        respiratory_rate=rng.uniform(8.0, 30.0),
        noise=rng.uniform(0.0, 0.1),
        method=str(rng.choice(["breathmetrics", "sinusoidal"])),
        random_state=_seed(rng),
    )


def _eda(rng: np.random.Generator, seconds: int, fs: int) -> np.ndarray:
    tonic = np.exp(rng.normal(np.log(4.0), 0.5))
    phasic = nk.eda_simulate(
        duration=seconds,
        sampling_rate=fs,
        noise=rng.uniform(0.001, 0.05),
        scr_number=int(rng.integers(0, 6)),
        drift=rng.uniform(-0.05, 0.05),
        random_state=_seed(rng),
    )
    return tonic + rng.uniform(0.1, 1.0) * (phasic - 1.0)


def _wander(rng: np.random.Generator, n: int, fs: int, scale: float) -> np.ndarray:
    """Baseline wander: a slow sinusoid (0.05-0.5 Hz) of random size and phase."""
    t = np.arange(n) / fs
    frequency, phase = rng.uniform(0.05, 0.5), rng.uniform(0.0, 2 * np.pi)
    return rng.uniform(0.0, 0.3) * scale * np.sin(2 * np.pi * frequency * t + phase)


def _motion_artefact(rng: np.random.Generator, window: np.ndarray, fs: int) -> np.ndarray:
    """A short burst (0.2-1 s) of large smoothed noise, as from a moving electrode or sensor."""
    length = min(window.size, max(2, round(rng.uniform(0.2, 1.0) * fs)))
    start = int(rng.integers(0, window.size - length + 1))
    burst = np.convolve(rng.standard_normal(length), np.ones(3) / 3, mode="same")
    out = window.astype(np.float64, copy=True)
    out[start : start + length] += (
        rng.uniform(1.0, 4.0) * np.std(window) * burst * np.hanning(length)
    )
    return out


_SIMULATORS: dict[str, Simulator] = {
    "ecg": _ecg,
    "emg": _emg,
    "ppg": _ppg,
    "rsp": _rsp,
    "eda": _eda,
}
