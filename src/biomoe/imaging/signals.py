"""Turn raw windows (NaNs, any length) into clean float64 traces, and resample them as a batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biomoe.errors import DataError

FLAT_TOLERANCE = 1e-12
"""A range below this, relative to the signal's magnitude, counts as a constant signal."""


def is_flat(low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    """Whether ``[low, high]`` is too narrow to draw (guards every division by a range)."""
    low, high = np.asarray(low), np.asarray(high)
    return high - low <= FLAT_TOLERANCE * (1.0 + np.abs(low) + np.abs(high))


def robust_range(signals: Sequence[np.ndarray], q: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``q`` and ``1 - q`` quantiles of each signal's samples, ``[N, 1]`` each."""
    bounds = np.array([np.quantile(s, [q, 1.0 - q]) for s in signals]).reshape(-1, 2)
    return bounds[:, :1], bounds[:, 1:]


def clean_signal(signal: object) -> np.ndarray:
    """The window's valid samples as float64: leading/trailing NaNs (padding) are dropped,
    interior NaNs and infinities are linearly interpolated. No valid sample gives ``[0.0]``,
    which every representation renders as a constant signal."""
    values = np.asarray(signal, dtype=np.float64).ravel()
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(1)
    valid = np.flatnonzero(finite)
    values, finite = values[valid[0] : valid[-1] + 1], finite[valid[0] : valid[-1] + 1]
    if finite.all():
        return values
    positions = np.arange(values.size)
    filled = values.copy()
    filled[~finite] = np.interp(positions[~finite], positions[finite], values[finite])
    return filled


def as_rates(fs: int | Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """One positive int64 sampling rate per window."""
    rates = np.asarray(fs, dtype=np.int64)
    if rates.ndim == 0:
        rates = np.full(n, rates, dtype=np.int64)
    elif rates.shape != (n,):
        raise ValueError(f"fs has {rates.size} entries for {n} signals")
    if (rates <= 0).any():
        raise DataError("sampling rate must be positive", segment="fs", hint=f"got {rates.min()}")
    return np.ascontiguousarray(rates)


def concat(signals: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat concatenation of clean signals, with each one's start offset and length."""
    lengths = np.array([s.size for s in signals], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return np.concatenate(signals), offsets, lengths


def _linear(flat: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of each signal at ``n`` bin centres, ``[N, n]``."""
    centres = (np.arange(n) + 0.5)[None, :] * (lengths[:, None] / n) - 0.5
    centres = np.clip(centres, 0.0, (lengths - 1)[:, None].astype(np.float64))
    left = np.floor(centres).astype(np.int64)
    right = np.minimum(left + 1, (lengths - 1)[:, None])
    frac = centres - left
    base = offsets[:, None]
    return flat[base + left] * (1.0 - frac) + flat[base + right] * frac


def columns(signals: Sequence[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each signal seen through ``n`` equal time bins: ``(trace, low, high)``, each ``[N, n]``.

    ``trace`` is the bin mean for signals of at least ``n`` samples (anti-aliased
    downsampling) and linear interpolation for shorter ones; ``low``/``high`` are the extreme
    original samples in each bin (a bin narrower than a sample holds the sample it lies in).
    """
    flat, offsets, lengths = concat(signals)
    starts = (np.arange(n)[None, :] * lengths[:, None]) // n
    index = (offsets[:, None] + starts).ravel()
    shape = (len(signals), n)
    counts = np.diff(np.concatenate([starts, lengths[:, None]], axis=1), axis=1)
    means = np.add.reduceat(flat, index).reshape(shape) / np.maximum(counts, 1)
    trace = np.where(lengths[:, None] >= n, means, _linear(flat, offsets, lengths, n))
    low = np.minimum.reduceat(flat, index).reshape(shape)
    high = np.maximum.reduceat(flat, index).reshape(shape)
    return trace, low, high
