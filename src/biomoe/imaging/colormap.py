"""A fixed viridis-like colour lookup table, so images never depend on a plotting library."""

from __future__ import annotations

import numpy as np

# matplotlib's viridis sampled at 0, 1/16, ..., 1; perceptually uniform, and its green
# channel rises monotonically, so brighter always means more.
_VIRIDIS_ANCHORS = np.array(
    [
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
    ],
    dtype=np.float64,
)


def _lut() -> np.ndarray:
    levels = np.linspace(0.0, 1.0, 256)
    anchors = np.linspace(0.0, 1.0, len(_VIRIDIS_ANCHORS))
    table = np.stack([np.interp(levels, anchors, _VIRIDIS_ANCHORS[:, c]) for c in range(3)], 1)
    return np.floor(table + 0.5).astype(np.uint8)


VIRIDIS_LUT: np.ndarray = _lut()
VIRIDIS_LUT.flags.writeable = False


def apply_colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (any shape ``[..., H, W]``) to uint8 RGB ``[..., 3, H, W]``."""
    index = np.floor(np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.intp)
    return np.moveaxis(VIRIDIS_LUT[index], -1, -3)
