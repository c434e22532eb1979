"""Rate and SNR estimates of real recordings' windows, whose truth is unknown (a simulated
window records its own); the rate and quality labels are bins of them (:mod:`.tasks`).

Rate: the lag of the first strong peak of the window's autocorrelation inside the signal
type's rate band (the earliest peak of at least 0.8 times the band's highest, so a multiple of
the period is not taken for it); no peak above 0.3 means no clear rhythm (NaN).
SNR: a Welch spectrum; the noise is assumed white, its density read from the median power
between the band's upper edge and the recording's Nyquist frequency; signal power is the
band's power less that noise. NaN when the band reaches the Nyquist frequency (no noise floor
to read). The bands per signal type are ``corpus.estimate``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import find_peaks, welch

_MIN_PEAK = 0.3
_EARLY_PEAK = 0.8


def estimate_rate_hz(signal: np.ndarray, fs: float, band: tuple[float, float]) -> float:
    """Dominant rhythm rate (Hz) in ``band`` by autocorrelation; NaN when there is none."""
    x = np.asarray(signal, dtype=np.float64) - np.mean(signal)
    if x.size < 4 or not np.any(x):
        return math.nan
    size = 1 << int(np.ceil(np.log2(2 * x.size)))
    spectrum = np.fft.rfft(x, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[: x.size]
    acf = acf / acf[0] * x.size / (x.size - np.arange(x.size))
    lo = max(1, math.floor(fs / band[1]))
    hi = min(x.size // 2, math.ceil(fs / band[0]))
    if hi - lo < 2:
        return math.nan
    peaks, _ = find_peaks(acf[lo : hi + 1])
    if peaks.size == 0:
        return math.nan
    heights = acf[lo + peaks]
    if heights.max() < _MIN_PEAK:
        return math.nan
    lag = lo + peaks[np.argmax(heights >= _EARLY_PEAK * heights.max())]
    return float(fs / _refine(acf, int(lag)))


def _refine(acf: np.ndarray, lag: int) -> float:
    """Sub-sample peak position by a parabola through the peak and its neighbours."""
    left, mid, right = acf[lag - 1], acf[lag], acf[lag + 1] if lag + 1 < acf.size else acf[lag]
    curvature = left - 2 * mid + right
    return lag + (0.5 * (left - right) / curvature if curvature < 0 else 0.0)


def estimate_snr_db(
    signal: np.ndarray, fs: float, band: tuple[float, float], nyquist: float
) -> float:
    """SNR (dB) of ``signal`` against a white-noise floor read above ``band``; ``nyquist`` is
    the highest frequency the recording held (before any upsampling)."""
    upper = 0.95 * min(nyquist, fs / 2)
    if band[1] >= upper:
        return math.nan
    x = np.asarray(signal, dtype=np.float64)
    freqs, power = welch(x - x.mean(), fs=fs, nperseg=min(x.size, int(2 * fs)))
    floor_band = (freqs > band[1]) & (freqs <= upper)
    if floor_band.sum() < 2:
        return math.nan
    density = float(np.median(power[floor_band]))
    step = freqs[1] - freqs[0]
    in_band = (freqs >= band[0]) & (freqs <= band[1])
    signal_power = float(power[in_band].sum() * step) - density * (band[1] - band[0])
    noise_power = density * min(nyquist, fs / 2)
    if noise_power <= 0:
        return math.inf
    return float(10 * np.log10(max(signal_power, 1e-12 * noise_power) / noise_power))
