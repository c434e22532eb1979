"""Spectrogram images: log-power STFT up to ``max_freq_hz``, per-window normalised, resized to
``S x S`` and coloured with a fixed viridis-like table.

Rows are frequency (bottom = 0 Hz, top = ``min(max_freq_hz, fs / 2)``), columns are time.
Each window is transformed on its own samples (mean removed, reflect-padded by ``n_fft // 2``
so frames are centred), and normalised to the top ``top_db`` decibels of its own power.
A window with no power at all (a constant signal) renders as an all-zero image.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from biomoe.config import ImageParams, SpectrogramParams
from biomoe.imaging.colormap import apply_colormap
from biomoe.imaging.signals import clean_signal, is_flat


def _frames(signal: np.ndarray, spec: SpectrogramParams) -> np.ndarray:
    """Centred, overlapping frames ``[T, n_fft]`` of a mean-removed signal (zeros if flat)."""
    flat = is_flat(signal.min(), signal.max())
    centred = np.zeros_like(signal) if flat else signal - signal.mean()
    padded = np.pad(centred, spec.n_fft // 2, mode="reflect")
    return np.lib.stride_tricks.sliding_window_view(padded, spec.n_fft)[:: spec.hop_length]


def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (the STFT convention)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _normalised_log_power(frames: np.ndarray, fs: int, spec: SpectrogramParams) -> np.ndarray:
    """``[G, T, n_fft]`` frames -> values in [0, 1], ``[G, F, T]`` with high frequencies first;
    windows with zero power come back as NaN."""
    n_bins = int(np.floor(min(spec.max_freq_hz, fs / 2.0) * spec.n_fft / fs)) + 1
    power = np.abs(np.fft.rfft(frames * _hann(spec.n_fft), axis=-1)[..., :n_bins]) ** 2
    peak = power.max(axis=(1, 2), keepdims=True)
    silent = peak <= 0.0
    floor = np.where(silent, 1.0, peak) * 10.0 ** (-spec.top_db / 10.0)
    decibels = 10.0 * np.log10(np.maximum(power, floor) / np.where(silent, 1.0, peak))
    values = np.where(silent, np.nan, 1.0 + decibels / spec.top_db)
    return np.flip(values.transpose(0, 2, 1), axis=1)


def _resize(values: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize (anti-aliased when shrinking) of ``[G, H, W]`` to ``[G, size, size]``."""
    tensor = torch.from_numpy(np.ascontiguousarray(values))[:, None]
    resized = F.interpolate(
        tensor, size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )
    return resized[:, 0].numpy()


def render_spectrogram(
    signals: Sequence[np.ndarray], fs: np.ndarray, params: ImageParams
) -> np.ndarray:
    """uint8 ``[N, 3, S, S]`` spectrogram images; windows are batched by (rate, frame count)."""
    spec, size = params.spectrogram, params.size
    frames = [_frames(clean_signal(s), spec) for s in signals]
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (rate, f) in enumerate(zip(fs, frames, strict=True)):
        groups[(int(rate), f.shape[0])].append(i)

    images = np.zeros((len(frames), 3, size, size), dtype=np.uint8)
    for (rate, _), members in groups.items():
        values = _normalised_log_power(np.stack([frames[i] for i in members]), rate, spec)
        silent = np.isnan(values[:, 0, 0])
        resized = _resize(np.nan_to_num(values), size)
        coloured = apply_colormap(resized)
        coloured[silent] = 0
        images[members] = coloured
    return images
