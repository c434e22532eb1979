"""The dominant rhythm of a window by autocorrelation: the lag of the first strong peak of the
window's autocorrelation inside a rate band (the earliest peak of at least 0.8 times the band's
highest, so a multiple of the period is not taken for it); no peak above 0.3 means no clear
rhythm (NaN). The corpus labels real recordings' rates with it; the breathing-rate feature
uses it too.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import find_peaks

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
