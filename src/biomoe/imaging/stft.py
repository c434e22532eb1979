"""The short-time Fourier transform shared by the spectrogram (magnitude) and phase images.

Each window is transformed on its own samples: mean removed, reflect-padded by ``n_fft // 2`` so
frames are centred on their time, Hann-windowed, and only the bins from 0 Hz to
``min(max_freq_hz, fs / 2)`` are computed, as one matrix product of the frames with a windowed
DFT matrix (cheaper than a full FFT when the band is a fraction of the spectrum, and one BLAS
call per window). Phases are referenced to each frame's centre. Windows are batched by
(sampling rate, length), the only things a grid's shape depends on, ``BLOCK`` at a time.
"""

from __future__ import annotations

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
def dft_matrix(n_fft: int, bins: int) -> np.ndarray:
    """float32 ``[n_fft, 2 * bins]``: real parts then imaginary parts of the first ``bins``
    DFT bins of a periodic-Hann-windowed frame, phase relative to the frame's centre."""
    samples = np.arange(n_fft)
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * samples / n_fft)
    angle = 2.0 * np.pi * np.outer(samples - n_fft // 2, np.arange(bins)) / n_fft
    matrix = np.concatenate([np.cos(angle), -np.sin(angle)], axis=1) * hann[:, None]
    matrix = matrix.astype(np.float32)
    matrix.flags.writeable = False
    return matrix


def stft_groups(
    signals: Sequence[np.ndarray], fs: np.ndarray, spec: SpectrogramParams
) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """``(members, real, imag)`` per batch of windows with equal rate and length: float32
    ``[G, F, T]`` each, row 0 = 0 Hz, column ``t`` = the frame centred on sample ``t * hop``."""
    keys = [(int(rate), signal.size) for rate, signal in zip(fs, signals, strict=True)]
    half = spec.n_fft // 2
    for (rate, _), same in groups(keys).items():
        dft = dft_matrix(spec.n_fft, n_bins(rate, spec)).T
        bins = dft.shape[0] // 2
        batch = np.stack([signals[i] for i in same])
        flat = is_flat(batch.min(axis=1), batch.max(axis=1))
        centred = np.where(flat[:, None], 0.0, batch - batch.mean(axis=1, keepdims=True))
        padded = np.pad(centred.astype(np.float32), ((0, 0), (half, half)), mode="reflect")
        windows = np.lib.stride_tricks.sliding_window_view(padded, spec.n_fft, axis=1)
        strided = windows[:, :: spec.hop_length]
        for first in range(0, len(same), BLOCK):
            frames = np.ascontiguousarray(strided[first : first + BLOCK])
            coefficients = dft @ frames.transpose(0, 2, 1)
            yield same[first : first + BLOCK], coefficients[:, :bins], coefficients[:, bins:]
