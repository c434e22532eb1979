"""Wavelet scalograms: the magnitude of the window's continuous wavelet transform with an analytic
Morlet wavelet, at ``n_scales`` frequencies log-spaced from ``max_freq_hz`` (top row) down to
``min_freq_hz`` (bottom row), in decibels over the top ``top_db`` of the window's own peak,
coloured with ``images.scalogram.colormap``. Columns are time: column ``c`` is the transform at
the centre of the ``c``-th of ``S`` equal slices of the window; rows are resized to ``S`` with
antialiased linear interpolation.

The transform is a convolution done as a product in the frequency domain. The wavelet at centre
frequency ``f`` is the Gaussian ``exp(-omega0 ** 2 / 2 * (g / f - 1) ** 2)`` over frequency
``g`` (standard deviation ``f / omega0``, unit peak so a sinusoid at ``f`` reads its amplitude,
cut at ``CUT`` standard deviations and at the column rate's Nyquist frequency, so the magnitude
needs no more than ``S`` columns). Each scale's band is moved to 0 Hz before a short inverse FFT,
which leaves the magnitude unchanged and yields it on a grid at least as fine as the columns,
read at the column centres by linear interpolation. The window is mean-removed and zero-padded
by 3 envelope widths of the lowest frequency, so its two ends do not wrap into each other.

A window needs one period of ``min_freq_hz`` (``signals.prepare`` raises otherwise). Fallback:
a window with no power at all (a constant signal) is uniformly the colour map's floor colour
(viridis: dark violet, not black).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft

from biomoe.imaging import exact
from biomoe.imaging.colormap import COLORMAPS, LEVELS, colorize
from biomoe.imaging.params import ImageParams, ScalogramParams
from biomoe.imaging.resize import resize_rows
from biomoe.imaging.signals import clean_signal, groups, is_flat

CUT = 4.0
"""The wavelet's spectrum is cut this many standard deviations from its centre."""

BATCH = 4
"""Windows transformed and rendered at once: their complex grids (about 200 kB each) and
float images stay in cache, and no multi-megabyte temporary is allocated (fresh ones cost page
faults that serialise threads). Results never depend on it."""


def min_samples(scalogram: ScalogramParams, fs: int) -> int:
    """One period of the lowest analysed frequency."""
    return math.ceil(fs / scalogram.min_freq_hz)


def frequencies(scalogram: ScalogramParams) -> np.ndarray:
    """Centre frequency (Hz) of each row, top row first."""
    top, bottom = math.log(scalogram.max_freq_hz), math.log(scalogram.min_freq_hz)
    steps = np.arange(scalogram.n_scales) / max(scalogram.n_scales - 1, 1)
    return exact.exp(top + steps * (bottom - top))


@dataclass(frozen=True)
class Plan:
    """For windows of one length: an ``n_fft``-point spectrum; the slots ``target`` of the
    baseband grid ``[n_grid, n_scales]`` (flattened) that spectrum bin ``source`` times
    ``weight`` fills; after an ``n_grid``-point inverse FFT down each scale's column, image
    column ``c`` lies between grid points ``left[c]`` and ``left[c] + 1``, ``right[c]`` of the
    way."""

    n_fft: int
    n_grid: int
    target: np.ndarray
    source: np.ndarray
    weight: np.ndarray
    left: np.ndarray
    right: np.ndarray


@lru_cache(maxsize=1024)
def plan(scalogram: ScalogramParams, fs: int, length: int, size: int) -> Plan:
    """The transform for windows of ``length`` samples at ``fs`` Hz rendered ``size`` wide."""
    centres = frequencies(scalogram)
    widths = centres / scalogram.omega0
    pad = math.ceil(3.0 * scalogram.omega0 / (2.0 * math.pi * scalogram.min_freq_hz) * fs)
    n_fft = scipy.fft.next_fast_len(length + pad, real=True)
    n_grid = scipy.fft.next_fast_len(min(math.ceil(size * n_fft / length) + 1, n_fft))
    spacing = fs / n_fft
    offsets = np.fft.fftfreq(n_grid, 1.0 / n_grid).astype(np.int64)
    source = np.rint(centres / spacing).astype(np.int64)[:, None] + offsets[None, :]
    distance = (source * spacing - centres[:, None]) / widths[:, None]
    inside = (source >= 0) & (source <= n_fft // 2) & (np.abs(distance) <= CUT)
    inside &= np.abs(offsets)[None, :] <= min(size * n_fft / length, n_grid - 1) / 2.0
    scale, slot = np.nonzero(inside)
    position = (np.arange(size) + 0.5) * (length / size) * (n_grid / n_fft)
    left = np.floor(position).astype(np.int64)
    arrays = (
        slot * scalogram.n_scales + scale,
        source[inside],
        exact.exp(-0.5 * distance[inside] ** 2).astype(np.float32),
        left,
        (position - left).astype(np.float32),
    )
    for array in arrays:
        array.flags.writeable = False
    return Plan(n_fft, n_grid, *arrays)


def scalogram_magnitude(
    signals: Sequence[np.ndarray], fs: np.ndarray, scalogram: ScalogramParams, size: int
) -> list[tuple[list[int], np.ndarray]]:
    """``(members, |W|)`` per batch of windows with equal rate and length: float32
    ``[G, n_scales, size]``, top row = ``max_freq_hz``, column ``c`` at the centre of slice
    ``c`` of the window."""
    clean = [clean_signal(s) for s in signals]
    out = []
    keys = [(int(rate), s.size) for rate, s in zip(fs, clean, strict=True)]
    for (rate, length), same in groups(keys).items():
        steps = plan(scalogram, rate, length, size)
        for first in range(0, len(same), BATCH):
            members = same[first : first + BATCH]
            batch = np.stack([clean[i] for i in members])
            flat = is_flat(batch.min(axis=1), batch.max(axis=1))
            batch = np.where(flat[:, None], 0.0, batch - batch.mean(axis=1, keepdims=True))
            spectrum = scipy.fft.rfft(batch.astype(np.float32), n=steps.n_fft, axis=1)
            bands = np.zeros((len(members), steps.n_grid * scalogram.n_scales), np.complex64)
            bands[:, steps.target] = np.take(spectrum, steps.source, axis=1) * steps.weight
            grid = bands.reshape(len(members), steps.n_grid, scalogram.n_scales)
            magnitude = exact.magnitude(np.fft.ifft(grid, axis=1))
            before, after = magnitude[:, steps.left], magnitude[:, steps.left + 1]
            columns = before + (after - before) * steps.right[:, None]
            out.append((members, columns.transpose(0, 2, 1)))
    return out


def render_scalogram(
    signals: Sequence[np.ndarray],
    fs: np.ndarray,
    params: ImageParams,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 ``[N, 3, S, S]`` scalogram images."""
    scalogram, size = params.scalogram, params.size
    levels = np.empty((len(signals), size, size), dtype=np.uint8)
    floor = np.float32(10.0 ** (-scalogram.top_db / 20.0))
    for members, magnitude in scalogram_magnitude(signals, fs, scalogram, size):
        peak = magnitude.max(axis=(1, 2), keepdims=True)
        relative = np.divide(magnitude, np.where(peak > 0.0, peak, np.float32(1.0)))
        np.maximum(relative, floor, out=relative)
        values = exact.log10(relative).astype(np.float32)
        values *= np.float32(20.0 / scalogram.top_db)
        values += np.float32(1.0)
        levels[members] = resize_rows(values, size, LEVELS)
    return colorize(levels, COLORMAPS[scalogram.colormap], out)
