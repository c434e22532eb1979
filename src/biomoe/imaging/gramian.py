"""Gramian angular fields: the window's ``S``-point PAA (``signals.paa``) min-max scaled to
[-1, 1] is read as the cosines of angles ``phi``; pixel ``(i, j)`` (row 0 = the window's start,
at the top) is ``cos(phi_i + phi_j)`` (summation, ``gasf``) or ``sin(phi_i - phi_j)``
(difference, ``gadf``) -- pyts' ``GramianAngularField(image_size=S)``, which ``gramian_field``
reproduces to rounding. Colours span [-1, 1] (``images.gramian.colormap``).

Min-max scaling is pyts' (and the method's): one huge spike squeezes the rest of the window to
-1, so the GASF shows only the spike (a cross) and the GADF is uniformly 0, the difference of the
only two angles left, 0 and pi, having sine 0 (the validate stage's ranges catch such samples).

Fallback: a constant window scales to -1 (scikit-learn's and so pyts' convention for a zero
range), so its GASF is uniformly 1 (the colour map's last colour) and its GADF uniformly 0 (the
middle colour).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from biomoe.imaging import exact
from biomoe.imaging.colormap import COLORMAPS, LEVELS, colorize
from biomoe.imaging.params import ImageParams
from biomoe.imaging.signals import clean_signal, is_flat, paa

Method = Literal["summation", "difference"]


def angular_coordinates(signals: Sequence[np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(cos phi, sin phi)``, each float64 ``[N, size]``."""
    points = paa([clean_signal(s) for s in signals], size)
    low, high = points.min(axis=1, keepdims=True), points.max(axis=1, keepdims=True)
    span = np.where(is_flat(low, high), 1.0, high - low)
    cosine = np.where(is_flat(low, high), -1.0, (points - low) / span * 2.0 - 1.0)
    return cosine, np.sqrt(np.clip(1.0 - cosine**2, 0.0, 1.0))


def gramian_field(
    signals: Sequence[np.ndarray],
    size: int,
    method: Method,
    scale: float = 1.0,
    offset: float = 0.0,
    dtype: type = np.float64,
) -> np.ndarray:
    """``scale * field + offset``, ``[N, size, size]`` in ``dtype``, as one batched product of
    ``[N, size, 3]`` by ``[N, 3, size]`` matrices (``exact.matmul``: the same bits on every
    machine)."""
    cosine, sine = angular_coordinates(signals, size)
    ones = np.ones_like(cosine)
    if method == "summation":
        left = np.stack([scale * cosine, -scale * sine, offset * ones], axis=2)
        right = np.stack([cosine, sine, ones], axis=1)
    else:
        left = np.stack([scale * sine, -scale * cosine, offset * ones], axis=2)
        right = np.stack([cosine, sine, ones], axis=1)
    return exact.matmul(left.astype(dtype), right.astype(dtype))


def _render(
    signals: Sequence[np.ndarray], params: ImageParams, method: Method, out: np.ndarray | None
) -> np.ndarray:
    half = float(LEVELS) / 2.0
    levels = gramian_field(signals, params.size, method, half, half, np.float32)
    return colorize(levels.astype(np.uint8), COLORMAPS[params.gramian.colormap], out)


def render_gasf(
    signals: Sequence[np.ndarray],
    fs: np.ndarray,
    params: ImageParams,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 ``[N, 3, S, S]`` summation fields; ``fs`` is unused."""
    del fs
    return _render(signals, params, "summation", out)


def render_gadf(
    signals: Sequence[np.ndarray],
    fs: np.ndarray,
    params: ImageParams,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 ``[N, 3, S, S]`` difference fields; ``fs`` is unused."""
    del fs
    return _render(signals, params, "difference", out)
