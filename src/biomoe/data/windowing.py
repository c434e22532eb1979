"""Recordings at any rate -> windows at the corpus rate.

A recording's missing samples are bridged by linear interpolation (edges take the nearest
valid sample) before an anti-aliasing polyphase resampling to ``fs``; it is then cut into
back-to-back windows of ``n`` samples. A window is a candidate when at most
``max_nan_fraction`` of the original samples under it were missing. At most ``cap``
candidates are kept, drawn without replacement from a generator seeded by the source, so the
choice is reproducible and does not depend on other sources.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly


@dataclass(frozen=True)
class Candidate:
    """Window ``start`` (at the corpus rate) of recording number ``recording``."""

    recording: int
    start: int


def resample(signal: np.ndarray, fs_in: float, fs_out: int) -> np.ndarray:
    """``signal`` (NaNs bridged) at ``fs_out``, float64, ``floor(len * fs_out / fs_in)`` long."""
    filled = fill_missing(signal)
    ratio = Fraction(fs_out) / Fraction(fs_in).limit_denominator(10_000)
    length = math.floor(filled.size * fs_out / fs_in + 1e-9)
    if ratio == 1:
        return filled[:length]
    return resample_poly(filled, ratio.numerator, ratio.denominator, padtype="line")[:length]


def fill_missing(signal: np.ndarray) -> np.ndarray:
    """float64 copy with NaNs interpolated linearly (constant at the edges); all-NaN gives 0."""
    values = np.asarray(signal, dtype=np.float64)
    valid = np.isfinite(values)
    if valid.all():
        return values.copy()
    if not valid.any():
        return np.zeros_like(values)
    positions = np.arange(values.size)
    return np.interp(positions, positions[valid], values[valid])


def candidates(
    signal: np.ndarray, fs_in: float, fs_out: int, n: int, max_nan_fraction: float, recording: int
) -> list[Candidate]:
    """Back-to-back windows of ``n`` samples at ``fs_out`` that are not too incomplete."""
    length = math.floor(signal.size * fs_out / fs_in + 1e-9)
    missing = np.concatenate([[0], np.cumsum(~np.isfinite(signal))])
    out = []
    for start in range(0, length - n + 1, n):
        lo = math.floor(start * fs_in / fs_out)
        hi = min(signal.size, math.ceil((start + n) * fs_in / fs_out))
        if (missing[hi] - missing[lo]) <= max_nan_fraction * max(hi - lo, 1):
            out.append(Candidate(recording, start))
    return out


def choose(found: list[Candidate], cap: int, seed: int, key: str) -> list[Candidate]:
    """Up to ``cap`` of ``found``, drawn with a generator seeded by ``(seed, key)``, in the
    order they were found."""
    if len(found) <= cap:
        return list(found)
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    picked = np.sort(rng.choice(len(found), size=cap, replace=False))
    return [found[i] for i in picked]
