"""Tiny-BioMoE's shape facts, importable without torch (the params schema checks against them)."""

from __future__ import annotations

EXPERT_DIM = 96
EMBED_DIM = 2 * EXPERT_DIM
IMG_SIZE_MULTIPLE = 32
"""The experts downsample by 32: an image size must be a positive multiple of it."""


def check_img_size(img_size: int) -> int:
    """Return ``img_size`` if the experts can be built for it (a positive multiple of 32)."""
    if isinstance(img_size, bool) or not isinstance(img_size, int):
        raise TypeError(f"img_size must be an int, got {type(img_size).__name__}")
    if img_size <= 0 or img_size % IMG_SIZE_MULTIPLE:
        raise ValueError(
            f"img_size must be a positive multiple of {IMG_SIZE_MULTIPLE}, got {img_size}"
        )
    return img_size
