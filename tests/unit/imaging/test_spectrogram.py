from __future__ import annotations

import numpy as np

from biomoe.config import Params
from biomoe.imaging import render_batch


def _sine(freq: float, fs: int = 100, seconds: float = 10.0) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(int(fs * seconds)) / fs)


def _energy_row(image: np.ndarray) -> int:
    """Brightest row (viridis green rises with power)."""
    return int(image[1].astype(float).mean(axis=1).argmax())


def test_frequency_maps_to_rows_with_zero_hz_at_the_bottom(tiny_params: Params) -> None:
    params = tiny_params.images.model_copy(update={"size": 64})
    low, high = render_batch([_sine(5.0), _sine(20.0)], 100, "spectrogram", params)
    top = params.spectrogram.max_freq_hz
    assert _energy_row(low) > _energy_row(high)
    assert abs(_energy_row(low) - (1 - 5.0 / top) * 64) <= 6
    assert abs(_energy_row(high) - (1 - 20.0 / top) * 64) <= 6


def test_rows_are_in_hertz_whatever_the_sampling_rate(tiny_params: Params) -> None:
    params = tiny_params.images.model_copy(update={"size": 64})
    at_100 = render_batch([_sine(8.0, 100)], 100, "spectrogram", params)[0]
    at_200 = render_batch([_sine(8.0, 200)], 200, "spectrogram", params)[0]
    assert abs(_energy_row(at_100) - _energy_row(at_200)) <= 3


def test_columns_are_time(tiny_params: Params) -> None:
    burst = np.concatenate([np.zeros(500), _sine(10.0, seconds=5.0)])
    burst += 1e-3 * np.random.default_rng(0).normal(size=burst.size)
    image = render_batch([burst], 100, "spectrogram", tiny_params.images)[0]
    green = image[1].astype(float)
    assert green[:, 20:].mean() > green[:, :12].mean() + 40


def test_constant_and_short_signals(tiny_params: Params) -> None:
    constant, short, gappy = render_batch(
        [np.full(800, 4.2), np.array([0.0, 1.0, -1.0]), np.r_[_sine(3.0)[:400], [np.nan] * 30]],
        100,
        "spectrogram",
        tiny_params.images,
    )
    assert not constant.any(), "no power renders as an all-zero image"
    assert short.any() and gappy.any()
