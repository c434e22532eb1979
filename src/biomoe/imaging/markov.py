"""Markov transition fields: the window's samples are binned into ``n_bins`` quantile bins, the
bin-to-bin transition probabilities ``W`` of consecutive samples are counted, and pixel
``(i, j)`` (row 0 = the window's start, at the top) is the mean of ``W[bin(a), bin(b)]`` over the
samples ``a`` of segment ``i`` and ``b`` of segment ``j`` (``signals.segment_bounds``) -- pyts'
``MarkovTransitionField(image_size=S, n_bins=n_bins)``, which ``markov_field`` reproduces to
rounding. That mean is ``H W H^T`` with ``H`` the segments' bin histograms (each row summing to
1), so a whole batch is two small batched matrix products (``exact.matmul``: the same bits on
every machine). Colours are relative to the window's
likeliest transition. A window shorter than ``S`` samples is upsampled by nearest neighbour
(pyts refuses it).

A window needs ``n_bins + 1`` samples (at least one transition per bin). Fallback: a constant
window stays in one bin, so every pixel is the likeliest transition (the colour map's last
colour).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from biomoe.imaging import exact
from biomoe.imaging.colormap import COLORMAPS, LEVELS, colorize
from biomoe.imaging.params import ImageParams
from biomoe.imaging.signals import clean_signal, groups, segment_bounds


def quantile_bins(signals: Sequence[np.ndarray], n_bins: int) -> list[np.ndarray]:
    """int64 bin of each sample of each window: the number of the window's ``n_bins - 1``
    inner quantiles below it (pyts' ``KBinsDiscretizer(strategy='quantile')``)."""
    binned: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(signals)
    levels = np.linspace(0, 100, n_bins + 1)[1:-1]
    for members in groups([s.size for s in signals]).values():
        batch = np.stack([signals[i] for i in members])
        edges = np.percentile(batch, levels, axis=1)
        below = np.zeros(batch.shape, dtype=np.int64)
        for edge in edges:
            below += batch > edge[:, None]
        for i, row in zip(members, below, strict=True):
            binned[i] = row
    return binned


@lru_cache(maxsize=1024)
def _membership(length: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pixel, sample)`` pairs: sample ``sample[k]`` belongs to segment ``pixel[k]``
    (``segment_bounds``: each sample in one segment, or each pixel on one sample)."""
    start, end = segment_bounds(length, size)
    counts = end - start
    pixel = np.repeat(np.arange(size), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    sample = np.repeat(start, counts) + within
    for array in (pixel, sample):
        array.flags.writeable = False
    return pixel, sample


def segment_histograms(bins: Sequence[np.ndarray], size: int, n_bins: int) -> np.ndarray:
    """float64 ``[N, size, n_bins]``: the share of each bin among each segment's samples."""
    pixels, samples = [], []
    offset = 0
    for window, b in enumerate(bins):
        pixel, sample = _membership(b.size, size)
        pixels.append(pixel + window * size)
        samples.append(sample + offset)
        offset += b.size
    flat = np.concatenate(bins)
    keys = np.concatenate(pixels) * n_bins + flat[np.concatenate(samples)]
    counts = np.bincount(keys, minlength=len(bins) * size * n_bins).astype(np.float64)
    counts = counts.reshape(len(bins), size, n_bins)
    return counts / counts.sum(axis=2, keepdims=True)


def transition_matrices(bins: Sequence[np.ndarray], n_bins: int) -> np.ndarray:
    """float64 ``[N, n_bins, n_bins]``: row ``a`` of matrix ``i`` is the distribution of the bin
    after ``a`` in window ``i`` (every window's pairs counted by one ``bincount``)."""
    flat = np.concatenate(bins)
    window = np.repeat(np.arange(len(bins)), [b.size for b in bins])
    keys = (window[:-1] * n_bins + flat[:-1]) * n_bins + flat[1:]
    same = window[:-1] == window[1:]
    counts = np.bincount(keys[same], minlength=len(bins) * n_bins * n_bins)
    counts = counts.reshape(len(bins), n_bins, n_bins).astype(np.float64)
    totals = counts.sum(axis=2, keepdims=True)
    return counts / np.where(totals > 0, totals, 1.0)


def _field_parts(
    signals: Sequence[np.ndarray], size: int, n_bins: int, scale: float | None, dtype: type
) -> tuple[np.ndarray, np.ndarray]:
    """The segment histograms ``H`` ``[N, size, n_bins]`` and transitions ``W`` ``[N, n_bins,
    n_bins]`` (scaled as ``markov_field`` says) whose product ``H W H^T`` is the field."""
    clean = [clean_signal(s) for s in signals]
    bins = quantile_bins(clean, n_bins)
    transitions = transition_matrices(bins, n_bins)
    if scale is not None:
        transitions *= scale / transitions.max(axis=(1, 2), keepdims=True)
    histograms = segment_histograms(bins, size, n_bins).astype(dtype)
    return histograms, transitions.astype(dtype)


def markov_field(
    signals: Sequence[np.ndarray],
    size: int,
    n_bins: int,
    scale: float | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """``[N, size, size]`` transition probabilities, or with ``scale`` the probabilities times
    ``scale`` over each window's largest transition probability."""
    histograms, transitions = _field_parts(signals, size, n_bins, scale, dtype)
    return exact.matmul(exact.matmul(histograms, transitions), histograms.transpose(0, 2, 1))


BLOCK = 4
"""Fields expanded at once when rendering: each block's float images stay in cache and no
multi-megabyte temporary is allocated. Results never depend on it."""


def render_mtf(
    signals: Sequence[np.ndarray],
    fs: np.ndarray,
    params: ImageParams,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 ``[N, 3, S, S]`` Markov transition fields; ``fs`` is unused."""
    del fs
    size = params.size
    histograms, transitions = _field_parts(
        signals, size, params.markov.n_bins, float(LEVELS), np.float32
    )
    levels = np.empty((len(signals), size, size), dtype=np.uint8)
    for first in range(0, len(signals), BLOCK):
        block = histograms[first : first + BLOCK]
        field = exact.matmul(
            exact.matmul(block, transitions[first : first + BLOCK]), block.transpose(0, 2, 1)
        )
        levels[first : first + BLOCK] = field
    return colorize(levels, COLORMAPS[params.markov.colormap], out)
