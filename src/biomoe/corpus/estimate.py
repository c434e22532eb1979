"""Rate and SNR estimates of real recordings' windows, whose truth is unknown (a simulated
window records its own); the rate and quality labels are bins of them (:mod:`.tasks`).

Rate: :func:`biomoe.physio.rhythm.estimate_rate_hz` in the signal type's rate band.
SNR: a Welch spectrum; the noise is assumed white, its density read from the median power
between the band's upper edge and the recording's Nyquist frequency; signal power is the
band's power less that noise. NaN when the band reaches the Nyquist frequency (no noise floor
to read). The bands per signal type are ``corpus.estimate``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import welch


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
