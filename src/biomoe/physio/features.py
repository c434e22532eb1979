"""Physiological features of one window: what a physiologist would read off the raw trace.

Per signal type, with neurokit2 wherever it has the detector (R peaks, pulse peaks, breaths,
skin-conductance responses, EMG activations, band power, spectral entropy):

- ``ecg``, ``ppg``: heart rate (bpm), its slope over the window (bpm/s, least squares on the
  beat-to-beat rate), RMSSD and SDNN (ms, ``nk.hrv_time``); ``ppg`` also pulse amplitude (onset
  to peak), its relative change per second (least squares on the beats' amplitudes over their
  mean) and rise time (s);
- ``eda``: SCRs per minute, mean SCR amplitude, tonic level and tonic slope (per minute);
- ``rsp``: breaths per minute and breathing depth (trough to peak);
- ``emg``: bursts (activations) per minute;
- ``eeg``: relative delta / theta / alpha / beta band power;
- every type: spectral entropy, zero crossings per second, the 5 / 50 / 95 % quantiles of
  the standardised signal, its trend (least-squares slope over the window, in standard
  deviations per window) and its amplitude change (log ratio of the detrended second half's
  standard deviation to the first half's).

The slopes and changes are the within-window features: a 10 s window carries no baseline of
its subject, so a response (a heart rate that climbs, pulses that shrink, a skin-conductance
rise) shows as change inside the window, not as a level.

Amplitudes are fractions of the window's 5-95 % range, not sensor units: the images are drawn
at unit scale (``biomoe.imaging.signals``), so a target in microsiemens would be invisible to
the model, and a dataset's units would leak into it. A feature that does not apply to a type
is NaN; one whose computation fails on a window (too few beats in 10 s, a flat trace, a
detector that raises) is NaN too and is counted in :class:`FeatureTable` ``failed``, never an
exception.
"""

from __future__ import annotations

import itertools
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import neurokit2 as nk
import numpy as np
import pandas as pd

from biomoe.physio.rhythm import estimate_rate_hz

CARDIAC = ("heart_rate", "heart_rate_slope", "hrv_rmssd", "hrv_sdnn")
PULSE = ("pulse_amplitude", "pulse_amplitude_change", "pulse_rise_time")
EDA = ("scr_rate", "scr_amplitude", "tonic_level", "tonic_slope")
RESPIRATION = ("breathing_rate", "breathing_depth")
EMG = ("emg_burst_rate",)
EEG_BANDS: dict[str, tuple[float, float]] = {
    "eeg_delta": (1.0, 4.0),
    "eeg_theta": (4.0, 8.0),
    "eeg_alpha": (8.0, 13.0),
    "eeg_beta": (13.0, 30.0),
}
GENERIC = (
    "spectral_entropy",
    "zero_crossing_rate",
    "amplitude_q05",
    "amplitude_q50",
    "amplitude_q95",
    "trend",
    "amplitude_change",
)

FEATURES: tuple[str, ...] = (
    *CARDIAC,
    *PULSE,
    *EDA,
    *RESPIRATION,
    *EMG,
    *EEG_BANDS,
    *GENERIC,
)
"""Every feature, in the order of :func:`feature_table`'s columns."""

BREATHING_BAND_HZ = (0.08, 0.8)
"""Breathing rates searched for (5-48 breaths per minute)."""
MIN_BEATS = 3
"""Peaks a window needs for a rate and an RMSSD (two intervals and their difference)."""


def _range(signal: np.ndarray) -> float:
    low, high = np.quantile(signal, [0.05, 0.95])
    if not high - low > 1e-12 * (1.0 + abs(low) + abs(high)):
        raise ValueError("a flat window has no amplitude")
    return float(high - low)


def _slope(times: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope of ``values`` over ``times`` (two points at least)."""
    return float(np.polyfit(np.asarray(times, np.float64), np.asarray(values, np.float64), 1)[0])


def _beats(peaks: np.ndarray, fs: int) -> dict[str, float]:
    peaks = np.asarray(peaks, dtype=np.int64)
    if peaks.size < MIN_BEATS:
        raise ValueError(f"{peaks.size} beats, fewer than {MIN_BEATS}")
    hrv = nk.hrv_time(peaks, sampling_rate=fs)
    intervals = np.diff(peaks) / fs
    return {
        "heart_rate": 60.0 / float(np.mean(intervals)),
        "heart_rate_slope": _slope(peaks[1:] / fs, 60.0 / intervals),
        "hrv_rmssd": float(hrv["HRV_RMSSD"].iloc[0]),
        "hrv_sdnn": float(hrv["HRV_SDNN"].iloc[0]),
    }


def _ecg(signal: np.ndarray, fs: int) -> dict[str, float]:
    _, info = nk.ecg_peaks(nk.ecg_clean(signal, sampling_rate=fs), sampling_rate=fs)
    return _beats(info["ECG_R_Peaks"], fs)


def _ppg(signal: np.ndarray, fs: int) -> dict[str, float]:
    cleaned = np.asarray(nk.ppg_clean(signal, sampling_rate=fs))
    peaks = np.asarray(nk.ppg_findpeaks(cleaned, sampling_rate=fs)["PPG_Peaks"], dtype=np.int64)
    features = _beats(peaks, fs)
    onsets = np.array([a + int(np.argmin(cleaned[a:b])) for a, b in itertools.pairwise(peaks)])
    later = peaks[1:]
    amplitudes = cleaned[later] - cleaned[onsets]
    features["pulse_amplitude"] = float(np.mean(amplitudes)) / _range(cleaned)
    features["pulse_amplitude_change"] = _slope(later / fs, amplitudes) / float(np.mean(amplitudes))
    features["pulse_rise_time"] = float(np.mean(later - onsets)) / fs
    return features


def _eda(signal: np.ndarray, fs: int) -> dict[str, float]:
    scale = _range(signal)
    parts = nk.eda_phasic(nk.eda_clean(signal, sampling_rate=fs), sampling_rate=fs)
    tonic = parts["EDA_Tonic"].to_numpy()
    _, info = nk.eda_peaks(parts["EDA_Phasic"].to_numpy(), sampling_rate=fs)
    amplitudes = np.asarray(info["SCR_Amplitude"], dtype=np.float64)
    amplitudes = amplitudes[np.isfinite(amplitudes)]
    minutes = signal.size / fs / 60.0
    return {
        "scr_rate": amplitudes.size / minutes,
        "scr_amplitude": float(np.mean(amplitudes)) / scale if amplitudes.size else 0.0,
        "tonic_level": (float(np.mean(tonic)) - float(np.quantile(signal, 0.05))) / scale,
        "tonic_slope": _slope(np.arange(tonic.size) / fs / 60.0, tonic) / scale,
    }


def _rsp(signal: np.ndarray, fs: int) -> dict[str, float]:
    """The rate from the autocorrelation of the cleaned trace (:mod:`.rhythm`; ``nk.rsp_rate``
    ``xcorr`` where it finds no clear rhythm): the breath detector misses the first and last
    breath of a 10 s window, often leaving fewer than two. The depth from the detected
    trough-to-peak excursions, left out when no breath is complete."""
    cleaned = np.asarray(nk.rsp_clean(signal, sampling_rate=fs))
    rate_hz = estimate_rate_hz(cleaned, fs, BREATHING_BAND_HZ)
    if np.isfinite(rate_hz):
        features = {"breathing_rate": 60.0 * rate_hz}
    else:
        window = max(1, int(signal.size / fs))
        rate = nk.rsp_rate(cleaned, sampling_rate=fs, method="xcorr", window=window, hop_size=1)
        features = {"breathing_rate": float(np.nanmedian(rate))}
    _, info = nk.rsp_peaks(cleaned, sampling_rate=fs)
    troughs = np.asarray(info["RSP_Troughs"], dtype=np.int64)
    depth = [
        cleaned[p] - cleaned[troughs[troughs < p][-1]]
        for p in np.asarray(info["RSP_Peaks"], dtype=np.int64)
        if (troughs < p).any()
    ]
    if depth:
        features["breathing_depth"] = float(np.mean(depth)) / _range(cleaned)
    return features


def _emg(signal: np.ndarray, fs: int) -> dict[str, float]:
    amplitude = nk.emg_amplitude(signal - np.mean(signal))
    _, info = nk.emg_activation(emg_amplitude=amplitude, sampling_rate=fs)
    minutes = signal.size / fs / 60.0
    return {"emg_burst_rate": len(info["EMG_Onsets"]) / minutes}


def _eeg(signal: np.ndarray, fs: int) -> dict[str, float]:
    """Each band's share of the power in the bands below Nyquist (the others stay NaN)."""
    names = [name for name, band in EEG_BANDS.items() if band[1] < fs / 2]
    bands = [EEG_BANDS[name] for name in names]
    power = nk.signal_power(signal, bands, sampling_rate=fs).to_numpy(dtype=np.float64)[0]
    total = float(np.sum(power))
    if not total > 0:
        raise ValueError("no power in the EEG bands")
    return dict(zip(names, (float(p) for p in power / total), strict=True))


def _spectral_entropy(signal: np.ndarray, fs: int) -> dict[str, float]:
    _range(signal)
    value, _ = nk.entropy_spectral(signal, sampling_rate=fs)
    return {"spectral_entropy": float(value)}


def _zero_crossings(signal: np.ndarray, fs: int) -> dict[str, float]:
    crossings = nk.signal_zerocrossings(signal - np.mean(signal))
    return {"zero_crossing_rate": len(crossings) / (signal.size / fs)}


def _quantiles(signal: np.ndarray, fs: int) -> dict[str, float]:
    spread = float(np.std(signal))
    _range(signal)
    standard = (signal - np.mean(signal)) / spread
    q05, q50, q95 = np.quantile(standard, [0.05, 0.5, 0.95])
    return {"amplitude_q05": float(q05), "amplitude_q50": float(q50), "amplitude_q95": float(q95)}


def _change(signal: np.ndarray, fs: int) -> dict[str, float]:
    """A half window without variation gives an infinite change: NaN, counted as failed."""
    _range(signal)
    t = np.linspace(-0.5, 0.5, signal.size)
    slope, intercept = np.polyfit(t, signal, 1)
    first, second = np.array_split(signal - (slope * t + intercept), 2)
    return {
        "trend": float(slope) / float(np.std(signal)),
        "amplitude_change": float(np.log(np.std(second) / np.std(first))),
    }


Extractor = Callable[[np.ndarray, int], dict[str, float]]
GROUPS: dict[str, tuple[Extractor, tuple[str, ...]]] = {
    "ecg": (_ecg, CARDIAC),
    "ppg": (_ppg, (*CARDIAC, *PULSE)),
    "eda": (_eda, EDA),
    "rsp": (_rsp, RESPIRATION),
    "emg": (_emg, EMG),
    "eeg": (_eeg, tuple(EEG_BANDS)),
}
"""The type-specific extractor of each signal type, and the features it gives."""
GENERIC_GROUPS: tuple[tuple[Extractor, tuple[str, ...]], ...] = (
    (_spectral_entropy, ("spectral_entropy",)),
    (_zero_crossings, ("zero_crossing_rate",)),
    (_quantiles, ("amplitude_q05", "amplitude_q50", "amplitude_q95")),
    (_change, ("trend", "amplitude_change")),
)


def applicable(signal_type: str) -> tuple[str, ...]:
    """The features that a window of ``signal_type`` has (the others are NaN by definition)."""
    specific = GROUPS[signal_type][1] if signal_type in GROUPS else ()
    return (*specific, *GENERIC)


def window_features(
    signal: np.ndarray, fs: int, signal_type: str
) -> tuple[dict[str, float], tuple[str, ...]]:
    """Every feature of :data:`FEATURES` for one window (NaN where it does not apply or could
    not be computed) and the applicable features that could not be computed."""
    values = dict.fromkeys(FEATURES, np.nan)
    failed: list[str] = []
    signal = np.asarray(signal, dtype=np.float64)
    signal = signal[np.isfinite(signal)]
    groups = [*([GROUPS[signal_type]] if signal_type in GROUPS else []), *GENERIC_GROUPS]
    for extract, names in groups:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                got = extract(signal, fs)
        except Exception:
            failed.extend(names)
            continue
        for name in names:
            value = got.get(name, np.nan)
            if np.isfinite(value):
                values[name] = float(value)
            else:
                failed.append(name)
    return values, tuple(failed)


@dataclass(frozen=True)
class FeatureTable:
    """``values``: one row per window, one float64 column per feature of :data:`FEATURES`;
    ``failed``: applicable features that could not be computed, counted per feature."""

    values: pd.DataFrame
    failed: dict[str, int]


def feature_table(
    signals: Sequence[np.ndarray], fs: Sequence[int], signal_types: Sequence[str]
) -> FeatureTable:
    """:func:`window_features` of every window, on the windows' index order."""
    rows: list[dict[str, float]] = []
    failed: Counter[str] = Counter()
    for signal, rate, signal_type in zip(signals, fs, signal_types, strict=True):
        values, missing = window_features(signal, int(rate), str(signal_type))
        rows.append(values)
        failed.update(missing)
    frame = pd.DataFrame(rows, columns=list(FEATURES), dtype=np.float64)
    return FeatureTable(frame, {name: int(failed.get(name, 0)) for name in FEATURES})
