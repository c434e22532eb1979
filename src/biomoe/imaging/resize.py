"""Separable antialiased linear resizing as a fixed sum of taps, so a batch of grids becomes
``S x S`` images whatever the machine and the scale to colour levels rides along for free.

Each output pixel reads a few neighbouring inputs (two when enlarging). Their weighted sum is
accumulated tap by tap in a fixed order, one ufunc per step, rather than as a matrix product:
a BLAS kernel sums a product in an order that depends on the kernel the machine picks
(``OPENBLAS_CORETYPE``, the SIMD level), and one differing bit can move a pixel to the next
colour level. The taps do the same sums as the dense product of ``resize_matrix``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1024)
def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """float32 ``[n_out, n_in]`` weights of antialiased linear interpolation (the triangle
    filter widened to the input spacing when shrinking, as PIL and torch's ``antialias=True``;
    pixel centres aligned, ``align_corners=False``). Each row sums to 1."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale
    samples = np.arange(n_in) + 0.5
    weights = np.clip(1.0 - np.abs(samples[None, :] - centres[:, None]) / support, 0.0, None)
    weights /= weights.sum(axis=1, keepdims=True)
    matrix = weights.astype(np.float32)
    matrix.flags.writeable = False
    return matrix


@lru_cache(maxsize=1024)
def taps(n_in: int, n_out: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(index, weight)``, each ``[K, n_out]``: output ``j`` is the sum over ``k`` of
    ``weight[k, j] * input[index[k, j]]`` (``resize_matrix`` times ``scale``, in float32; rows
    with fewer than ``K`` inputs padded with weight 0)."""
    matrix = resize_matrix(n_in, n_out) * np.float32(scale)
    nonzero = matrix != 0.0
    width = int(nonzero.sum(axis=1).max())
    first = nonzero.argmax(axis=1)
    index = np.minimum(first[None, :] + np.arange(width)[:, None], n_in - 1)
    weight = np.take_along_axis(matrix, index.T, axis=1).T
    weight = np.where(first[None, :] + np.arange(width)[:, None] < n_in, weight, 0.0)
    index, weight = index.astype(np.intp), weight.astype(np.float32)
    for array in (index, weight):
        array.flags.writeable = False
    return index, weight


def resize_rows(grids: np.ndarray, size: int, scale: float = 1.0) -> np.ndarray:
    """``[G, H, W]`` (any strides) -> float32 ``[G, size, W]``, rows resized, times ``scale``."""
    index, weight = taps(grids.shape[1], size, float(scale))
    out = np.take(grids, index[0], axis=1) * weight[0][:, None]
    for k in range(1, index.shape[0]):
        out += np.take(grids, index[k], axis=1) * weight[k][:, None]
    return out.astype(np.float32, copy=False)


def resize_columns(grids: np.ndarray, size: int) -> np.ndarray:
    """``[G, H, W]`` -> float32 ``[G, H, size]``, columns resized."""
    if grids.shape[2] == size:
        return grids
    index, weight = taps(grids.shape[2], size)
    out = np.take(grids, index[0], axis=2) * weight[0]
    for k in range(1, index.shape[0]):
        out += np.take(grids, index[k], axis=2) * weight[k]
    return out.astype(np.float32, copy=False)


def resize(grids: np.ndarray, size: int, scale: float = 1.0) -> np.ndarray:
    """``[G, H, W]`` -> float32 ``[G, size, size]`` times ``scale`` (columns, then rows; each
    grid on its own, so results never depend on the batch)."""
    columns = resize_columns(grids.astype(np.float32, copy=False), size)
    return resize_rows(columns, size, scale)
