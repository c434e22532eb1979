"""Spectrogram images: log-power STFT (``stft``) per-window normalised, resized to ``S x S``
and coloured with ``images.spectrogram.colormap``.

Rows are frequency (bottom = 0 Hz, top = ``min(max_freq_hz, fs / 2)``), columns are time; the
grid is resized with antialiased linear interpolation. Power is shown over the top ``top_db``
decibels of the window's own peak.

Fallbacks: a window needs ``n_fft`` samples (``signals.prepare`` raises otherwise); a window with
no power at all (a constant signal) is uniformly the colour map's floor colour (viridis: dark
violet, not black) -- every bin sits at the bottom of the range.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biomoe.imaging import exact
from biomoe.imaging.colormap import COLORMAPS, LEVELS, colorize
from biomoe.imaging.params import ImageParams
from biomoe.imaging.resize import resize
from biomoe.imaging.signals import clean_signal
from biomoe.imaging.stft import stft_groups


def normalised_log_power(real: np.ndarray, imag: np.ndarray, top_db: float) -> np.ndarray:
    """STFT ``[G, F, T]`` -> float32 values in [0, 1] with 0 Hz in the last row; 1 is the
    window's peak, 0 is ``top_db`` below it or less; a window without power is all 0."""
    power = np.square(real)
    power += np.square(imag)
    peak = power.max(axis=(1, 2), keepdims=True)
    power /= np.where(peak > 0.0, peak, np.float32(1.0))
    np.maximum(power, np.float32(10.0 ** (-top_db / 10.0)), out=power)
    values = exact.log10(power).astype(np.float32)
    values *= np.float32(10.0 / top_db)
    values += np.float32(1.0)
    return np.flip(values, axis=1)


def render_spectrogram(
    signals: Sequence[np.ndarray],
    fs: np.ndarray,
    params: ImageParams,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 ``[N, 3, S, S]`` spectrogram images."""
    spec, size = params.spectrogram, params.size
    levels = np.empty((len(signals), size, size), dtype=np.uint8)
    clean = [clean_signal(s) for s in signals]
    for members, real, imag in stft_groups(clean, fs, spec):
        values = normalised_log_power(real, imag, spec.top_db)
        levels[members] = resize(values, size, LEVELS)
    return colorize(levels, COLORMAPS[spec.colormap], out)
