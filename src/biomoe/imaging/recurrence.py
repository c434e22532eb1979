"""Recurrence plots: how far apart the window's states at every two times are.

The window is reduced to ``S + (dimension - 1) * time_delay`` points by piecewise aggregate
approximation (``signals.paa``), delay-embedded into ``S`` states of ``dimension`` coordinates
``time_delay`` points apart, and pixel ``(i, j)`` (row 0 = the window's start, at the top) is the
Euclidean distance between states ``i`` and ``j`` -- pyts' ``RecurrencePlot`` of the PAA, which
``recurrence_matrix`` reproduces to rounding. The image is coloured by the distance scaled to the
window's largest (``threshold: none``: dark = close), or thresholded (``point``: the
``percentage`` % closest pairs; ``distance``: pairs closer than ``percentage`` % of the largest),
recurrent pairs drawn as distance 0 (the colour map's first colour), the rest as its last.

Fallback: a constant window has every state recurrent: uniformly the first colour (viridis:
dark violet, not black); pyts would mark nothing recurrent under its strict threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biomoe.imaging.colormap import COLORMAPS, LEVELS, colorize
from biomoe.imaging.params import ImageParams, RecurrenceParams
from biomoe.imaging.signals import clean_signal, paa


def min_samples(recurrence: RecurrenceParams) -> int:
    """Two states need ``(dimension - 1) * time_delay + 2`` samples."""
    return (recurrence.dimension - 1) * recurrence.time_delay + 2


def recurrence_matrix(
    signals: Sequence[np.ndarray],
    recurrence: RecurrenceParams,
    size: int,
    scale: float | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """Distances ``[N, size, size]``: raw (``scale=None``, as pyts with ``threshold=None``) or
    scaled so each window's largest distance is ``scale`` (0 for a constant window)."""
    span = (recurrence.dimension - 1) * recurrence.time_delay
    points = paa([clean_signal(s) for s in signals], size + span)
    if scale is not None:
        low, high = points.min(axis=1, keepdims=True), points.max(axis=1, keepdims=True)
        reach = np.where(high > low, high - low, 1.0) * np.sqrt(recurrence.dimension)
        points = (points - low) * (scale / reach)
    points = points.astype(dtype)
    if recurrence.dimension == 1:
        distances = np.subtract(points[:, :, None], points[:, None, :])
        return np.abs(distances, out=distances)
    squared = np.zeros((len(points), size, size), dtype=dtype)
    for k in range(recurrence.dimension):
        coordinate = points[:, k * recurrence.time_delay : k * recurrence.time_delay + size]
        squared += np.square(coordinate[:, :, None] - coordinate[:, None, :])
    distances = np.sqrt(squared)
    if scale is None:
        return distances
    largest = distances.max(axis=(1, 2), keepdims=True)
    return distances * np.where(largest > 0, scale / np.where(largest > 0, largest, 1), 0)


def recurrent_pairs(distances: np.ndarray, recurrence: RecurrenceParams) -> np.ndarray:
    """bool ``[N, S, S]``: pairs closer than the threshold (pyts' strict ``<``), from raw
    distances; a constant window (all distances 0) is wholly recurrent."""
    flat = distances.reshape(len(distances), -1)
    if recurrence.threshold == "point":
        limit = np.percentile(flat, recurrence.percentage, axis=1)
    else:
        limit = recurrence.percentage / 100.0 * flat.max(axis=1)
    constant = flat.max(axis=1) == 0
    return (distances < limit[:, None, None]) | constant[:, None, None]


def render_recurrence(
    signals: Sequence[np.ndarray],
    fs: np.ndarray,
    params: ImageParams,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 ``[N, 3, S, S]`` recurrence plots; ``fs`` is unused."""
    del fs
    recurrence, size = params.recurrence, params.size
    lut = COLORMAPS[recurrence.colormap]
    if recurrence.threshold != "none":
        far = ~recurrent_pairs(recurrence_matrix(signals, recurrence, size), recurrence)
        return colorize(far.astype(np.uint8) * np.uint8(255), lut, out)
    if recurrence.dimension == 1:
        levels = recurrence_matrix(signals, recurrence, size, float(LEVELS), np.float32)
    else:
        levels = recurrence_matrix(signals, recurrence, size, 1.0) * LEVELS
    return colorize(levels.astype(np.uint8), lut, out)
