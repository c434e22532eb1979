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

A constant signal draws flat lines through the middle row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biomoe.config import ImageParams
from biomoe.imaging.signals import FLAT_TOLERANCE, clean_signal, columns, is_flat, robust_range


def _draw(top: np.ndarray, bottom: np.ndarray, size: int, half_width: float) -> np.ndarray:
    """Intensity in [0, 1], ``[N, size, size]``, of vertical runs ``top..bottom`` (row
    coordinates per column, ``[N, size]``) widened by ``half_width`` with a one-pixel soft edge."""
    rows = np.arange(size, dtype=np.float64)[None, :, None]
    distance = np.maximum(np.maximum(top[:, None, :] - rows, rows - bottom[:, None, :]), 0.0)
    return np.clip(half_width + 0.5 - distance, 0.0, 1.0)


def _line_runs(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the rows a polyline through ``y`` covers: from the midpoint towards the
    previous column to the midpoint towards the next, so steep segments stay connected."""
    before = np.concatenate([y[:, :1], (y[:, 1:] + y[:, :-1]) / 2], axis=1)
    after = np.concatenate([(y[:, 1:] + y[:, :-1]) / 2, y[:, -1:]], axis=1)
    return np.minimum(np.minimum(before, after), y), np.maximum(np.maximum(before, after), y)


def render_waveform(
    signals: Sequence[np.ndarray], fs: np.ndarray, params: ImageParams
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
    steepest = np.quantile(np.abs(slope), 1.0 - q, axis=1, keepdims=True)
    moving = steepest > FLAT_TOLERANCE
    slope = np.where(moving, slope / np.where(moving, steepest, 1.0), 0.0)

    trace_top, trace_bottom = _line_runs(to_rows(scaled))
    slope_top, slope_bottom = _line_runs(to_rows(0.5 + 0.5 * slope))
    band_top = np.minimum(to_rows(unit(high)), trace_top)
    band_bottom = np.maximum(to_rows(unit(low)), trace_bottom)

    image = np.stack(
        [
            _draw(trace_top, trace_bottom, size, half_width),
            _draw(slope_top, slope_bottom, size, half_width),
            _draw(band_top, band_bottom, size, 0.5),
        ],
        axis=1,
    )
    return np.floor(image * 255.0 + 0.5).astype(np.uint8)
