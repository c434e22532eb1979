from __future__ import annotations

import numpy as np

from biomoe.config import Params
from biomoe.imaging.render import render_batch
from biomoe.imaging.scalogram import frequencies, plan, scalogram_magnitude


def _sine(hz: float, n: int = 1000, fs: int = 100) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(n) / fs)


def test_rows_are_log_frequency_with_the_highest_on_top(tiny_params: Params) -> None:
    params = tiny_params.images.model_copy(update={"size": 64})
    scalogram = params.scalogram
    top, bottom = np.log(scalogram.max_freq_hz), np.log(scalogram.min_freq_hz)
    for hz in (1.0, 4.0, 15.0):
        image = render_batch([_sine(hz)], 100, "scalogram", params)[0]
        brightest = int(image[1].astype(float).mean(axis=1).argmax())
        expected = (top - np.log(hz)) / (top - bottom) * 64
        assert abs(brightest - expected) <= 3, (hz, brightest, expected)


def test_columns_are_time(tiny_params: Params) -> None:
    burst = np.r_[np.zeros(500), _sine(6.0, 500)]
    image = render_batch([burst], 100, "scalogram", tiny_params.images)[0][1].astype(float)
    assert image[:, 20:].mean() > image[:, :12].mean() + 40


def test_magnitude_equals_a_direct_morlet_convolution(tiny_params: Params) -> None:
    """At the column centres, |W| is the modulus of the signal convolved with the analytic
    Morlet wavelet whose spectrum is the documented Gaussian (checked for a mid scale, where
    the 4-sigma cut is the only approximation)."""
    scalogram, size = tiny_params.images.scalogram, 64
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=1000)) + 3 * _sine(2.0)
    ((_, magnitude),) = scalogram_magnitude([x], np.array([100]), scalogram, size)
    k = int(np.argmin(np.abs(frequencies(scalogram) - 2.0)))
    f = frequencies(scalogram)[k]
    sigma = f / scalogram.omega0
    t = np.arange(-2000, 2001) / 100
    wavelet = np.exp(-2 * (np.pi * sigma * t) ** 2) * np.exp(2j * np.pi * f * t)
    centred = x - x.mean()
    full = np.convolve(centred, wavelet)[2000:3000]
    columns = np.floor((np.arange(size) + 0.5) * 1000 / size).astype(int)
    centre = (np.arange(size) + 0.5) * 1000 / size - columns  # column centre between samples
    direct = np.abs(full[columns] * (1 - centre) + full[np.minimum(columns + 1, 999)] * centre)
    ours = magnitude[0, k]
    ratio = ours / direct
    assert np.std(ratio) / np.mean(ratio) < 0.01, "same shape up to one constant"


def test_plans_fit_any_length_and_rate(tiny_params: Params) -> None:
    scalogram = tiny_params.images.scalogram
    for fs, length in ((100, 1000), (100, 997), (4, 40), (250, 2500)):
        steps = plan(scalogram, fs, length, 224)
        assert steps.n_fft >= length
        assert steps.left.max() + 1 < steps.n_grid
        assert steps.source.max() <= steps.n_fft // 2
    image = render_batch([_sine(0.3, 40, 4)], 4, "scalogram", tiny_params.images)[0]
    assert image.std() > 5
