"""The short-time Fourier transform shared by the spectrogram (magnitude) and phase images.

Each window is transformed on its own samples: mean removed, reflect-padded by ``n_fft // 2`` so
frames are centred on their time, Hann-windowed, and only the bins from 0 Hz to
``min(max_freq_hz, fs / 2)`` are kept, from numpy's real FFT (pocketfft: a fixed order of
operations compiled into the wheel, so the bins are the same bit for bit whatever the machine's
BLAS kernel or SIMD level, which a windowed-DFT matrix product is not). Phases are referenced to
each frame's centre. Windows are batched by
(sampling rate, length), the only things a grid's shape depends on, ``BLOCK`` at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from functools import lru_cache

import numpy as np

from biomoe.imaging.params import SpectrogramParams
from biomoe.imaging.signals import groups, is_flat

BLOCK = 4
"""Windows framed and transformed at once: their frames (64 kB each at the default settings)
and everything rendered from them stay in cache, and no large temporary is ever allocated
(fresh multi-megabyte arrays cost page faults). Results never depend on it."""


def n_bins(fs: int, spec: SpectrogramParams) -> int:
    """Frequency rows kept: 0 Hz up to ``min(max_freq_hz, fs / 2)``."""
    return int(np.floor(min(spec.max_freq_hz, fs / 2.0) * spec.n_fft / fs)) + 1


@lru_cache(maxsize=64)
def hann(n_fft: int) -> np.ndarray:
    """float32 periodic Hann window of ``n_fft`` samples (``math.cos``: the same on every
    machine)."""
    window = np.array([0.5 - 0.5 * math.cos(2.0 * math.pi * n / n_fft) for n in range(n_fft)])
    window = window.astype(np.float32)
    window.flags.writeable = False
    return window


@lru_cache(maxsize=64)
def centre_twiddle(n_fft: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``(cos, sin)`` of ``2 pi k (n_fft // 2) / n_fft`` per bin ``k``: multiplying bin
    ``k`` by that unit phasor moves its phase reference from the frame's first sample to its
    centre (``n_fft // 2`` samples later). For even ``n_fft`` the phasor is ``(-1) ** k`` and
    ``sin`` is exactly 0 (``math.cos`` / ``math.sin`` otherwise: the same on every machine)."""
    half = n_fft // 2
    if n_fft % 2 == 0:
        cos = np.where(np.arange(bins) % 2 == 0, 1.0, -1.0)
        sin = np.zeros(bins)
    else:
        turns = [2.0 * math.pi * ((k * half) % n_fft) / n_fft for k in range(bins)]
        cos = np.array([math.cos(angle) for angle in turns])
        sin = np.array([math.sin(angle) for angle in turns])
    twiddle = cos.astype(np.float32), sin.astype(np.float32)
    for part in twiddle:
        part.flags.writeable = False
    return twiddle


def _centred(real: np.ndarray, imag: np.ndarray, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """``(real, imag)`` ``[G, F, T]`` rotated by :func:`centre_twiddle`; for even ``n_fft`` a sign
    flip only, so no ``0 * x`` term can change the sign of a zero (which the phase would show)."""
    cos, sin = (part[:, None] for part in centre_twiddle(n_fft, real.shape[1]))
    if n_fft % 2 == 0:
        return real * cos, imag * cos
    return real * cos - imag * sin, real * sin + imag * cos


def stft_groups(
    signals: Sequence[np.ndarray], fs: np.ndarray, spec: SpectrogramParams
) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """``(members, real, imag)`` per batch of windows with equal rate and length: float32
    ``[G, F, T]`` each, row 0 = 0 Hz, column ``t`` = the frame centred on sample ``t * hop``."""
    keys = [(int(rate), signal.size) for rate, signal in zip(fs, signals, strict=True)]
    half = spec.n_fft // 2
    for (rate, _), same in groups(keys).items():
        bins = n_bins(rate, spec)
        window = hann(spec.n_fft)
        batch = np.stack([signals[i] for i in same])
        flat = is_flat(batch.min(axis=1), batch.max(axis=1))
        centred = np.where(flat[:, None], 0.0, batch - batch.mean(axis=1, keepdims=True))
        padded = np.pad(centred.astype(np.float32), ((0, 0), (half, half)), mode="reflect")
        windows = np.lib.stride_tricks.sliding_window_view(padded, spec.n_fft, axis=1)
        strided = windows[:, :: spec.hop_length]
        for first in range(0, len(same), BLOCK):
            frames = strided[first : first + BLOCK] * window
            spectrum = np.fft.rfft(frames, axis=2)[:, :, :bins].transpose(0, 2, 1)
            real, imag = _centred(
                np.ascontiguousarray(spectrum.real), np.ascontiguousarray(spectrum.imag), spec.n_fft
            )
            yield same[first : first + BLOCK], real, imag
