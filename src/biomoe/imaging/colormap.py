"""Colour maps defined in code (no plotting library at run time), and the fast path that turns a
batch of uint8 level images into RGB planes.

Values in [0, 1] are quantised to 256 equal-width levels (``level = floor(v * LEVELS)``, so 0
and 1 map to the first and last colour); ``colorize`` then looks every level up in a 256-entry
table. The lookup reads two pixels at a time through a 65,536-entry table that holds all three
channels of both, which halves the number of gathers and fills the three planes in one pass.
"""

from __future__ import annotations

import sys
from functools import cache

import numpy as np

LEVELS = np.float32(255.999)
"""Scale from [0, 1] to a level: ``floor(v * LEVELS)`` is 0..255 and each level is 1/256 wide."""

# matplotlib's viridis sampled at 0, 1/16, ..., 1; perceptually uniform, and its green
# channel rises monotonically, so brighter always means more.
_VIRIDIS_ANCHORS = (
    (0x44, 0x01, 0x54),
    (0x48, 0x18, 0x6A),
    (0x47, 0x2D, 0x7B),
    (0x42, 0x40, 0x86),
    (0x3B, 0x52, 0x8B),
    (0x33, 0x63, 0x8D),
    (0x2C, 0x72, 0x8E),
    (0x26, 0x82, 0x8E),
    (0x21, 0x91, 0x8C),
    (0x1F, 0xA0, 0x88),
    (0x28, 0xAE, 0x80),
    (0x3F, 0xBC, 0x73),
    (0x5E, 0xC9, 0x62),
    (0x84, 0xD4, 0x4B),
    (0xAD, 0xDC, 0x30),
    (0xD8, 0xE2, 0x19),
    (0xFD, 0xE7, 0x25),
)

# matplotlib's twilight sampled at 0, 1/32, ..., 1: cyclic (both ends the same light grey), for
# angles, where -pi and pi must look alike.
_TWILIGHT_ANCHORS = (
    (0xE2, 0xD9, 0xE2),
    (0xD7, 0xD7, 0xDD),
    (0xC4, 0xCE, 0xD4),
    (0xAC, 0xC2, 0xCC),
    (0x95, 0xB5, 0xC7),
    (0x81, 0xA6, 0xC3),
    (0x72, 0x97, 0xC1),
    (0x68, 0x87, 0xBE),
    (0x62, 0x76, 0xBA),
    (0x5F, 0x64, 0xB5),
    (0x5E, 0x51, 0xAD),
    (0x5D, 0x3D, 0xA1),
    (0x59, 0x2A, 0x8F),
    (0x51, 0x1B, 0x77),
    (0x45, 0x13, 0x5C),
    (0x38, 0x11, 0x45),
    (0x2F, 0x14, 0x36),
    (0x3A, 0x11, 0x3A),
    (0x4A, 0x13, 0x42),
    (0x5F, 0x17, 0x4A),
    (0x74, 0x1E, 0x4F),
    (0x87, 0x27, 0x50),
    (0x98, 0x35, 0x50),
    (0xA6, 0x45, 0x50),
    (0xB2, 0x56, 0x52),
    (0xBB, 0x69, 0x58),
    (0xC2, 0x7C, 0x63),
    (0xC8, 0x90, 0x73),
    (0xCC, 0xA3, 0x89),
    (0xD1, 0xB6, 0xA3),
    (0xD8, 0xC7, 0xBE),
    (0xDF, 0xD4, 0xD6),
    (0xE2, 0xD9, 0xE2),
)


def _lut(anchors: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    points = np.array(anchors, dtype=np.float64)
    levels = np.linspace(0.0, 1.0, 256)
    positions = np.linspace(0.0, 1.0, len(points))
    table = np.stack([np.interp(levels, positions, points[:, c]) for c in range(3)], 1)
    lut = np.floor(table + 0.5).astype(np.uint8)
    lut.flags.writeable = False
    return lut


COLORMAPS: dict[str, np.ndarray] = {
    "viridis": _lut(_VIRIDIS_ANCHORS),
    "twilight": _lut(_TWILIGHT_ANCHORS),
}
"""Name -> uint8 ``[256, 3]`` table; the names ``images.<representation>.colormap`` accepts."""

VIRIDIS_LUT: np.ndarray = COLORMAPS["viridis"]


def to_levels(values: np.ndarray) -> np.ndarray:
    """uint8 levels of values in [0, 1] (clipped), same shape."""
    scaled = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0) * LEVELS
    return scaled.astype(np.uint8)


BLOCK = 8
"""Images coloured per step: their gathered pairs stay in cache for the split into planes."""


@cache
def _pair_table(lut_bytes: bytes) -> np.ndarray:
    """uint64 ``[65536]``: for two levels read as one little-endian uint16, the two pixels'
    values in each channel, channel ``c`` in bits ``16c .. 16c + 15``."""
    lut = np.frombuffer(lut_bytes, dtype=np.uint8).reshape(256, 3).astype(np.uint64)
    pair = np.arange(65536)
    first, second = pair & 0xFF, pair >> 8
    table = np.zeros(65536, dtype=np.uint64)
    for c in range(3):
        table |= (lut[first, c] | (lut[second, c] << np.uint64(8))) << np.uint64(16 * c)
    return table


def colorize(levels: np.ndarray, lut: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 levels ``[N, H, W]`` -> RGB ``[N, 3, H, W]`` through a ``[256, 3]`` table."""
    levels = np.ascontiguousarray(levels, dtype=np.uint8)
    n, height, width = levels.shape
    if out is None:
        out = np.empty((n, 3, height, width), dtype=np.uint8)
    if width % 2 or sys.byteorder != "little" or not out.flags.c_contiguous:
        for c in range(3):
            out[:, c] = lut[:, c][levels]
        return out
    table = _pair_table(np.ascontiguousarray(lut).tobytes())
    pairs, out_pairs = levels.view(np.uint16), out.view(np.uint16)
    gathered = np.empty((min(BLOCK, n), *pairs.shape[1:]), dtype=np.uint64)
    for start in range(0, n, BLOCK):
        block = gathered[: min(BLOCK, n - start)]
        np.take(table, pairs[start : start + BLOCK], out=block, mode="wrap")
        planes = block.view(np.uint16).reshape(*block.shape, 4)
        for c in range(3):
            np.copyto(out_pairs[start : start + BLOCK, c], planes[..., c])
    return out


def apply_colormap(values: np.ndarray, name: str = "viridis") -> np.ndarray:
    """Map values in [0, 1] (any shape ``[..., H, W]``) to uint8 RGB ``[..., 3, H, W]``."""
    values = np.asarray(values)
    head, (height, width) = values.shape[:-2], values.shape[-2:]
    levels = to_levels(values).reshape(-1, height, width)
    return colorize(levels, COLORMAPS[name]).reshape(*head, 3, height, width)
