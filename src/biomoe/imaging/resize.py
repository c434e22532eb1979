"""Separable resizing as small matrix products, so a batch of grids becomes ``S x S`` images in a
few BLAS calls and the scale to colour levels rides along for free.

Interpolation weights are banded (each output pixel reads a few neighbouring inputs), so each
pass is split into blocks of ``BLOCK`` outputs multiplied only by the inputs they read: the
same sums as the dense product, a fraction of its work.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BLOCK = 32
"""Output rows (or columns) per banded product."""


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
def _bands(n_in: int, n_out: int) -> tuple[tuple[int, int, int, int], ...]:
    """``(first, stop, lo, hi)``: outputs ``first:stop`` read only inputs ``lo:hi``."""
    matrix = resize_matrix(n_in, n_out)
    bands = []
    for first in range(0, n_out, BLOCK):
        stop = min(first + BLOCK, n_out)
        used = np.flatnonzero(matrix[first:stop].any(axis=0))
        bands.append((first, stop, int(used[0]), int(used[-1]) + 1))
    return tuple(bands)


def resize_rows(grids: np.ndarray, size: int, scale: float = 1.0) -> np.ndarray:
    """``[G, H, W]`` (any strides) -> float32 ``[G, size, W]``, rows resized, times ``scale``."""
    matrix = resize_matrix(grids.shape[1], size) * np.float32(scale)
    out = np.empty((grids.shape[0], size, grids.shape[2]), dtype=np.float32)
    for first, stop, lo, hi in _bands(grids.shape[1], size):
        np.matmul(matrix[first:stop, lo:hi], grids[:, lo:hi], out=out[:, first:stop])
    return out


def resize_columns(grids: np.ndarray, size: int) -> np.ndarray:
    """``[G, H, W]`` -> float32 ``[G, H, size]``, columns resized."""
    if grids.shape[2] == size:
        return grids
    matrix = resize_matrix(grids.shape[2], size).T
    out = np.empty((grids.shape[0], grids.shape[1], size), dtype=np.float32)
    for first, stop, lo, hi in _bands(grids.shape[2], size):
        np.matmul(grids[:, :, lo:hi], matrix[lo:hi, first:stop], out=out[:, :, first:stop])
    return out


def resize(grids: np.ndarray, size: int, scale: float = 1.0) -> np.ndarray:
    """``[G, H, W]`` -> float32 ``[G, size, size]`` times ``scale`` (columns, then rows; each
    grid on its own, so results never depend on the batch)."""
    columns = resize_columns(grids.astype(np.float32, copy=False), size)
    return resize_rows(columns, size, scale)
