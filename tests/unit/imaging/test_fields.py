"""What the recurrence, Gramian and Markov images show, beyond pyts parity."""

from __future__ import annotations

import numpy as np

from biomoe.config import Params
from biomoe.imaging.colormap import COLORMAPS
from biomoe.imaging.gramian import gramian_field
from biomoe.imaging.markov import markov_field
from biomoe.imaging.recurrence import recurrence_matrix
from biomoe.imaging.render import render_batch


def _walk(n: int = 1000, seed: int = 0) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).normal(size=n))


def test_recurrence_is_symmetric_with_a_dark_diagonal(tiny_params: Params) -> None:
    image = render_batch([_walk()], 100, "recurrence", tiny_params.images)[0]
    np.testing.assert_array_equal(image, image.transpose(0, 2, 1))
    lut = COLORMAPS[tiny_params.images.recurrence.colormap]
    np.testing.assert_array_equal(
        image[:, np.arange(32), np.arange(32)].T, np.tile(lut[0], (32, 1))
    )


def test_recurrence_scaled_distances_reach_exactly_the_scale(tiny_params: Params) -> None:
    recurrence = tiny_params.images.recurrence
    scaled = recurrence_matrix([_walk(), 5 * _walk(seed=1)], recurrence, 32, 1.0)
    np.testing.assert_allclose(scaled.max(axis=(1, 2)), 1.0)
    embedded = recurrence.model_copy(update={"dimension": 3, "time_delay": 4})
    scaled = recurrence_matrix([_walk()], embedded, 32, 1.0)
    np.testing.assert_allclose(scaled.max(), 1.0)
    assert scaled.shape == (1, 32, 32)


def test_gramian_fields_are_cosines_of_sums_and_sines_of_differences() -> None:
    x = np.sin(np.linspace(0, 7, 64))
    phi = np.arccos((x - x.min()) / (x.max() - x.min()) * 2 - 1)
    np.testing.assert_allclose(
        gramian_field([x], 64, "summation")[0], np.cos(phi[:, None] + phi[None, :]), atol=1e-7
    )
    np.testing.assert_allclose(
        gramian_field([x], 64, "difference")[0], np.sin(phi[:, None] - phi[None, :]), atol=1e-7
    )


def test_markov_field_of_an_alternating_signal_is_a_checkerboard() -> None:
    x = np.tile([0.0, 1.0], 32)
    field = markov_field([x], 64, 2)[0]
    expected = (np.arange(64)[:, None] + np.arange(64)[None, :]) % 2  # only switches happen
    np.testing.assert_allclose(field, expected)


def test_markov_field_upsamples_short_windows_by_nearest_sample() -> None:
    x = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    field = markov_field([x], 10, 2)[0]
    assert field.shape == (10, 10)
    np.testing.assert_array_equal(field[::2, ::2], field[1::2, 1::2])
