"""Waveform images: the window drawn as anti-aliased line plots, one trace per colour channel.

Columns are time (the window resampled to ``S`` points; bin means when shrinking), rows are
amplitude (top = high).

- red: the trace itself, min-max scaled per window between the ``clip_quantile`` and
  ``1 - clip_quantile`` quantiles of its samples (an outlier does not squash the trace);
- green: its first derivative (a central difference over ``slope_span`` of the window),
  scaled symmetrically so the middle row is zero slope
  (rising parts sit above the middle, falling parts below);
- blue: the filled band between the lowest and highest original sample in each column,
  which keeps the detail (peaks, fast oscillation) that resampling to ``S`` points drops.

Lines are anti-aliased: each column holds a vertical run (from the midpoints towards the
neighbouring columns, so steep segments stay connected) widened by half the line width on both
ends, and every pixel's intensity is the fraction of it the run covers (box-filter coverage), so
a line moved by a fraction of a pixel changes the image by that fraction.

Fallback: a constant signal draws flat lines through the middle row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biomoe.imaging.params import ImageParams
from biomoe.imaging.signals import (
    FLAT_TOLERANCE,
    clean_signal,
    columns,
    is_flat,
    robust_range,
    row_quantile,
)


def _raster(
    top: np.ndarray, bottom: np.ndarray, half_width: np.ndarray, size: int, out: np.ndarray | None
) -> np.ndarray:
    """uint8 ``[N, C, size, size]`` coverage of per-column runs ``top..bottom`` (row
    coordinates, ``[N, C, size]``) widened by ``half_width`` (``[C]``, at least 0.5).

    A pixel ``r`` spans rows ``[r - 0.5, r + 0.5)``: the pixels wholly inside the widened run
    are 255, the two it ends in hold their covered fraction, everything else is 0."""
    width = half_width[None, :, None]
    start = np.clip(top - width, -0.5, size - 0.5)
    end = np.clip(bottom + width, -0.5, size - 0.5)
    first = np.floor(start + 0.5).astype(np.int64)
    last = np.floor(end + 0.5).astype(np.int64)
    direct = out is not None and out.flags.c_contiguous
    image = out if direct else np.empty((*top.shape[:2], size, size), dtype=np.uint8)
    dtype = np.uint8 if size <= 256 else np.uint16
    rows = np.arange(size, dtype=dtype)[:, None]
    inside = image if dtype == np.uint8 else np.empty(image.shape, dtype=dtype)
    np.subtract(rows, (first + 1).astype(dtype)[:, :, None, :], out=inside, dtype=dtype)
    np.less(inside, (last - first - 1).clip(0).astype(dtype)[:, :, None, :], out=image.view(bool))
    np.negative(image, out=image)
    n, c, s = top.shape
    column = (np.arange(n * c) * size * size).reshape(n, c, 1) + np.arange(s)
    head = np.floor(np.minimum(first + 0.5 - start, end - start) * 255.0 + 0.5)
    tail = np.floor((end - (last - 0.5)) * 255.0 + 0.5)
    flat = image.reshape(-1)
    flat[column + last.clip(0, size - 1) * size] = tail.astype(np.uint8)
    flat[column + first.clip(0, size - 1) * size] = head.astype(np.uint8)
    if out is not None and not direct:
        out[...] = image
        return out
    return image


def _line_runs(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the rows a polyline through ``y`` covers: from the midpoint towards the
    previous column to the midpoint towards the next, so steep segments stay connected."""
    before = np.concatenate([y[:, :1], (y[:, 1:] + y[:, :-1]) / 2], axis=1)
    after = np.concatenate([(y[:, 1:] + y[:, :-1]) / 2, y[:, -1:]], axis=1)
    return np.minimum(np.minimum(before, after), y), np.maximum(np.maximum(before, after), y)


def render_waveform(
    signals: Sequence[np.ndarray],
    fs: np.ndarray,
    params: ImageParams,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 ``[N, 3, S, S]`` line-plot images; ``fs`` is unused (time is normalised per window)."""
    del fs
    size, q = params.size, params.waveform.clip_quantile
    clean = [clean_signal(s) for s in signals]
    trace, low, high = columns(clean, size)

    floor, ceiling = robust_range(clean, q)
    flat = is_flat(floor, ceiling)
    span = np.where(flat, 1.0, ceiling - floor)

    def unit(x: np.ndarray) -> np.ndarray:
        return np.where(flat, 0.5, (x - floor) / span)

    half_width = max(1.0, params.waveform.line_width * size) / 2.0
    margin = half_width + 1.0

    def to_rows(v: np.ndarray) -> np.ndarray:
        return margin + (1.0 - np.clip(v, 0.0, 1.0)) * (size - 1 - 2.0 * margin)

    scaled = unit(trace)
    reach = max(1, round(params.waveform.slope_span * size / 2))
    padded = np.pad(scaled, ((0, 0), (reach, reach)), mode="edge")
    slope = (padded[:, 2 * reach :] - padded[:, : -2 * reach]) / (2 * reach)
    steepest = row_quantile(np.abs(slope), 1.0 - q)
    moving = steepest > FLAT_TOLERANCE
    slope = np.where(moving, slope / np.where(moving, steepest, 1.0), 0.0)

    trace_top, trace_bottom = _line_runs(to_rows(scaled))
    slope_top, slope_bottom = _line_runs(to_rows(0.5 + 0.5 * slope))
    band_top = np.minimum(to_rows(unit(high)), trace_top)
    band_bottom = np.maximum(to_rows(unit(low)), trace_bottom)

    return _raster(
        np.stack([trace_top, slope_top, band_top], axis=1),
        np.stack([trace_bottom, slope_bottom, band_bottom], axis=1),
        np.array([half_width, half_width, 0.5]),
        size,
        out,
    )
