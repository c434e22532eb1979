"""Phase images: the angle of the spectrogram's STFT (``stft``, same frames and rows), referenced
to each frame's centre, coloured with a cyclic colour map so -pi and pi look alike.

Rows are frequency (bottom = 0 Hz), columns are time. The grid is enlarged by nearest neighbour:
angles are circular, and interpolating between bins would invent phases that no bin has. As
enlarging only repeats cells, the small grid is coloured first and its colours repeated, which
gives the same bytes as colouring the enlarged image for a tenth of the lookups.
Bins more than ``images.phase.mask_below_db`` below the window's peak power carry no reliable
phase (it is noise there) and are drawn neutral grey (``MASKED``).

Fallbacks: a window needs ``n_fft`` samples (``signals.prepare`` raises otherwise); a window with
no power at all (a constant signal) has no phase anywhere and is uniformly grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache

import numpy as np

from biomoe.imaging import exact
from biomoe.imaging.colormap import COLORMAPS, colorize
from biomoe.imaging.params import ImageParams
from biomoe.imaging.signals import clean_signal
from biomoe.imaging.stft import stft_groups

MASKED = (128, 128, 128)
"""Colour of bins without reliable phase."""


@cache
def _lut(colormap: str) -> np.ndarray:
    """Level 0 is ``MASKED``; levels 1..255 sample the cyclic map over [-pi, pi)."""
    cyclic = COLORMAPS[colormap]
    table = np.empty((256, 3), dtype=np.uint8)
    table[0] = MASKED
    table[1:] = cyclic[np.floor(np.arange(255) * 256 / 255).astype(np.int64)]
    table.flags.writeable = False
    return table


@lru_cache(maxsize=256)
def nearest(n_in: int, n_out: int) -> np.ndarray:
    """Index of the input cell under each output pixel's centre (read-only)."""
    index = np.minimum(((np.arange(n_out) + 0.5) * (n_in / n_out)).astype(np.int64), n_in - 1)
    index.flags.writeable = False
    return index


def phase_levels(real: np.ndarray, imag: np.ndarray, mask_below_db: float) -> np.ndarray:
    """STFT ``[G, F, T]`` -> uint8 levels, 0 Hz in the last row: 0 where masked, else
    ``1 + floor((angle + pi) / 2 pi * 255)`` (1..255)."""
    power = real**2 + imag**2
    peak = power.max(axis=(1, 2), keepdims=True)
    reliable = (power > 0.0) & (power >= peak * np.float32(10.0 ** (-mask_below_db / 10.0)))
    angle = exact.arctan2(imag, real).astype(np.float32)
    turns = (angle + np.float32(np.pi)) * np.float32(255.0 / (2 * np.pi))
    levels = np.where(reliable, 1 + np.minimum(turns, np.float32(254.999)).astype(np.uint8), 0)
    return np.flip(levels.astype(np.uint8), axis=1)


def render_phase(
    signals: Sequence[np.ndarray],
    fs: np.ndarray,
    params: ImageParams,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 ``[N, 3, S, S]`` phase images."""
    size = params.size
    images = np.empty((len(signals), 3, size, size), dtype=np.uint8) if out is None else out
    lut = _lut(params.phase.colormap)
    clean = [clean_signal(s) for s in signals]
    for members, real, imag in stft_groups(clean, fs, params.spectrogram):
        grid = phase_levels(real, imag, params.phase.mask_below_db)
        wide = np.take(colorize(grid, lut), nearest(grid.shape[2], size), axis=3)
        rows = nearest(grid.shape[1], size)
        if members == list(range(members[0], members[0] + len(members))):
            np.take(wide, rows, axis=2, out=images[members[0] : members[0] + len(members)])
        else:
            images[members] = np.take(wide, rows, axis=2)
    return images
