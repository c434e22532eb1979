"""Turn raw windows (NaNs, any length) into clean float64 traces, check them against what a
representation needs, and resample them as a batch.

What ``prepare`` does with bad input (the rules every representation shares):

- NaN marks a missing sample: leading/trailing NaNs (padding) are dropped, interior gaps are
  linearly interpolated (how much may be missing is the validate stage's rule);
- a window with no finite sample at all, or holding +-inf, is a ``DataError`` naming the window,
  its source file and the rule: no image could show it truthfully;
- a window with fewer samples than the representation needs (``min_samples``: e.g. one STFT
  frame) is a ``DataError`` that names both numbers and the parameter behind the minimum;
- magnitude never matters: each window is rescaled by a power of two (exact in floating point)
  so that its largest sample lies in [0.5, 1), so 1e30-scale or 1e-30-scale input renders as the
  same window at unit scale would and nothing overflows;
- a constant window is valid data (a saturated sensor, SpO2 holding at 98 %); each representation
  documents the uniform, non-black image it draws for it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from functools import lru_cache

import numpy as np

from biomoe.errors import DataError

FLAT_TOLERANCE = 1e-12
"""A range below this, relative to the signal's magnitude, counts as a constant signal."""


def is_flat(low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    """Whether ``[low, high]`` is too narrow to draw (guards every division by a range)."""
    low, high = np.asarray(low), np.asarray(high)
    return high - low <= FLAT_TOLERANCE * (1.0 + np.abs(low) + np.abs(high))


def groups(keys: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """Positions of equal keys (e.g. window lengths), in first-seen order: the batches that a
    vectorised step can stack."""
    found: dict[Hashable, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        found[key].append(i)
    return found


def robust_range(signals: Sequence[np.ndarray], q: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``q`` and ``1 - q`` quantiles of each signal's samples (numpy's default linear
    interpolation, from one partial sort of each batch of equal-length signals), ``[N, 1]``
    each."""
    bounds = np.empty((len(signals), 2))
    for length, members in groups([s.size for s in signals]).items():
        last = length - 1
        positions = (q * last, (1.0 - q) * last)
        below = [math.floor(h) for h in positions]
        above = [min(b + 1, last) for b in below]
        batch = np.stack([signals[i] for i in members])
        ordered = np.partition(batch, sorted({*below, *above}), axis=1)
        for j, (h, b, a) in enumerate(zip(positions, below, above, strict=True)):
            bounds[members, j] = ordered[:, b] + (h - b) * (ordered[:, a] - ordered[:, b])
    return bounds[:, :1], bounds[:, 1:]


def row_quantile(values: np.ndarray, q: float) -> np.ndarray:
    """``np.quantile(values, q, axis=1, keepdims=True)`` of a finite float ``[N, n]`` array,
    bit for bit (numpy's linear method and interpolation), without its per-call overhead."""
    n = values.shape[1]
    virtual = (n - 1) * q
    below = math.floor(virtual)
    above = min(below + 1, n - 1)
    ordered = np.partition(values, sorted({below, above}), axis=1)
    low, high = ordered[:, below : below + 1], ordered[:, above : above + 1]
    gamma = virtual - below
    diff = high - low
    if gamma >= 0.5:
        return high - diff * (1.0 - gamma)
    return low + diff * gamma


def _all_finite(values: np.ndarray) -> bool:
    """NaN and infinities make the sum NaN or infinite; one reduction, cheaper than a mask for
    the common case (a finite sum that overflows only sends the caller down its slow path)."""
    return math.isfinite(values.sum())


def clean_signal(signal: object) -> np.ndarray:
    """The window's valid samples as float64: leading/trailing NaNs (padding) are dropped,
    interior NaNs and infinities are linearly interpolated. No valid sample gives ``[0.0]``,
    which every representation renders as a constant signal."""
    values = np.asarray(signal, dtype=np.float64).ravel()
    if values.size and _all_finite(values):
        return values
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


def window_name(index: int, window_ids: Sequence[object] | None) -> str:
    """How errors refer to window ``index`` of a batch."""
    return str(window_ids[index]) if window_ids is not None else f"window {index}"


def prepare(
    signals: Sequence[object],
    min_samples: int,
    representation: str,
    requirement: str,
    window_ids: Sequence[object] | None = None,
    source_files: Sequence[object] | None = None,
) -> list[np.ndarray]:
    """Clean, checked, power-of-two-rescaled float64 windows (rules in the module docstring);
    ``requirement`` says where ``min_samples`` comes from, for the error message."""
    prepared = []
    for i, signal in enumerate(signals):
        values = np.asarray(signal)
        if values.dtype.kind != "f":
            values = values.astype(np.float64)
        values = values.ravel()
        if values.size >= min_samples:
            low, high = float(values.min()), float(values.max())
            if math.isfinite(low) and math.isfinite(high):
                prepared.append(_unit_scale(values, max(high, -low)))
                continue
        values = values.astype(np.float64, copy=False)
        finite = np.isfinite(values)

        def fail(rule: str, hint: str, i: int = i) -> DataError:
            file = source_files[i] if source_files is not None else None
            return DataError(
                f"{representation} image: {rule}",
                file=None if file is None or file != file else str(file),
                segment=window_name(i, window_ids),
                hint=hint,
            )

        if np.isinf(values).any():
            raise fail(
                "window holds infinite samples",
                f"{int(np.isinf(values).sum())} of {values.size}; mark missing samples with NaN",
            )
        if not finite.any():
            raise fail(
                "window has no finite sample",
                f"{values.size} samples, all NaN; drop the window or fix its source",
            )
        clean = clean_signal(values)
        if clean.size < min_samples:
            raise fail(
                f"window has {clean.size} samples, fewer than the {min_samples} it needs",
                f"minimum set by {requirement}; use longer windows or change that parameter",
            )
        prepared.append(_unit_scale(clean, max(clean.max(), -clean.min())))
    return prepared


def _unit_scale(values: np.ndarray, peak: float) -> np.ndarray:
    """float64 ``values`` times the power of two that puts ``peak``, their largest magnitude,
    in [0.5, 1) (a new array; exact, as scaling by a power of two only changes exponents)."""
    if peak > 0:
        return np.ldexp(values, -math.frexp(peak)[1], dtype=np.float64)
    return values.astype(np.float64)


@lru_cache(maxsize=4096)
def segment_bounds(length: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) sample of each of ``n`` pixels along a window of ``length``.

    With at least ``n`` samples these are pyts' PAA segments (``linspace(0, length, n + 1)``
    truncated), consecutive and covering the window; with fewer, each pixel holds the one sample
    under its centre (nearest-neighbour upsampling: blocks, never invented values)."""
    if length >= n:
        bounds = np.linspace(0, length, n + 1).astype(np.int64)
        start, end = bounds[:-1], bounds[1:]
    else:
        start = ((np.arange(n) + 0.5) * (length / n)).astype(np.int64)
        end = start + 1
    start.flags.writeable = end.flags.writeable = False
    return start, end


def segment_index(lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For signals laid end to end, the flat start of each signal's ``n`` segments and each
    segment's sample count, both ``[N, n]``; ``reduceat`` over the starts sums the segments."""
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    starts = np.empty((len(lengths), n), dtype=np.int64)
    counts = np.empty((len(lengths), n), dtype=np.int64)
    for i, length in enumerate(lengths):
        start, end = segment_bounds(int(length), n)
        starts[i], counts[i] = offsets[i] + start, end - start
    return starts, counts


def paa(signals: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Piecewise aggregate approximation: the mean of each of ``n`` segments, ``[N, n]``
    (``segment_bounds``; equal to pyts' ``PiecewiseAggregateApproximation(output_size=n)``)."""
    flat, _, lengths = concat(signals)
    starts, counts = segment_index(lengths, n)
    return np.add.reduceat(flat, starts.ravel()).reshape(starts.shape) / counts
