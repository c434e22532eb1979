from __future__ import annotations

import numpy as np
import pytest

from biomoe.config import Params
from biomoe.imaging.colormap import COLORMAPS
from biomoe.imaging.render import render_batch
from biomoe.imaging.resize import resize
from biomoe.imaging.spectrogram import normalised_log_power
from biomoe.imaging.stft import stft_groups


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


def test_constant_signal_is_the_floor_colour_not_black(tiny_params: Params) -> None:
    constant, gappy = render_batch(
        [np.full(800, 4.2), np.r_[_sine(3.0)[:400], [np.nan] * 30]],
        100,
        "spectrogram",
        tiny_params.images,
    )
    floor = COLORMAPS[tiny_params.images.spectrogram.colormap][0]
    assert (constant == floor[:, None, None]).all(), "no power: every bin at the floor"
    assert floor.any(), "the floor colour is not black"
    assert gappy.std() > 10


@pytest.mark.parametrize("n_fft", [128, 127, 65])
def test_matches_a_direct_centred_dft(tiny_params: Params, n_fft: int) -> None:
    """Each bin equals a direct DFT of the Hann-windowed frame with its phase referenced to the
    frame's centre sample, for even and odd ``n_fft``."""
    spec = tiny_params.images.spectrogram.model_copy(update={"n_fft": n_fft})
    x = np.cumsum(np.random.default_rng(0).normal(size=1000))
    ((_, real, imag),) = list(stft_groups([x], np.array([100]), spec))
    half = n_fft // 2
    padded = np.pad(x - x.mean(), half, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[:: spec.hop_length]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    bins = real.shape[1]
    basis = np.exp(-2j * np.pi * np.outer(np.arange(n_fft) - half, np.arange(bins)) / n_fft)
    expected = (frames * hann) @ basis
    scale = np.abs(expected).max()
    np.testing.assert_allclose(real[0], expected.real.T, atol=1e-5 * scale)
    np.testing.assert_allclose(imag[0], expected.imag.T, atol=1e-5 * scale)


def test_resize_matches_torch_antialiased_bilinear(tiny_params: Params) -> None:
    """The fixed-order resize equals torch's antialiased bilinear interpolation."""
    import torch
    import torch.nn.functional as F

    spec = tiny_params.images.spectrogram
    x = np.cumsum(np.random.default_rng(0).normal(size=1000))
    ((_, real, imag),) = list(stft_groups([x], np.array([100]), spec))
    values = normalised_log_power(real, imag, spec.top_db)
    reference = F.interpolate(
        torch.from_numpy(np.ascontiguousarray(values))[:, None],
        size=(64, 64),
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )[:, 0].numpy()
    np.testing.assert_allclose(resize(values, 64), reference, atol=1e-5)
