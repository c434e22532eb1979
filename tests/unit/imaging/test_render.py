from __future__ import annotations

import numpy as np
import pytest

from biomoe.config import Params
from biomoe.imaging.render import REPRESENTATIONS, render_all, render_batch

REPS = sorted(REPRESENTATIONS)


def _mixed_batch(rng: np.random.Generator) -> list[np.ndarray]:
    """Valid windows of assorted lengths: gaps, padding, a constant, float32 and float64."""
    lengths = rng.integers(300, 900, 6)
    signals = [np.cumsum(rng.normal(size=int(n))).astype(np.float32) for n in lengths]
    signals[1][50:80] = np.nan
    signals[2] = np.r_[[np.nan] * 7, signals[2], [np.nan] * 20]
    return [*signals, np.full(400, 2.5), np.sin(np.linspace(0, 40, 1000))]


@pytest.mark.parametrize("representation", REPS)
@pytest.mark.parametrize("size", [32, 48])
def test_shape_dtype_and_valid_output(tiny_params: Params, representation: str, size: int) -> None:
    params = tiny_params.images.model_copy(update={"size": size})
    images = render_batch(_mixed_batch(np.random.default_rng(0)), 100, representation, params)
    assert images.shape == (8, 3, size, size)
    assert images.dtype == np.uint8
    assert images.reshape(8, -1).max(axis=1).min() > 60, "no image is black or nearly so"
    real = images[[0, 1, 2, 3, 4, 5, 7]].reshape(7, 3, -1)
    assert (real.std(axis=2).max(axis=1) > 5).all(), "every varying signal draws a pattern"


@pytest.mark.parametrize("representation", REPS)
def test_byte_identical_and_independent_of_the_batch_and_threads(
    tiny_params: Params, representation: str
) -> None:
    signals = _mixed_batch(np.random.default_rng(1))
    rates = [100, 50, 100, 200, 100, 100, 100, 100]
    params = tiny_params.images.model_copy(update={"threads": 1})
    first = render_batch(signals, rates, representation, params)
    again = render_batch([s.copy() for s in signals], np.array(rates), representation, params)
    assert first.tobytes() == again.tobytes()
    pairs = zip(signals, rates, strict=True)
    alone = np.concatenate([render_batch([s], [r], representation, params) for s, r in pairs])
    assert alone.tobytes() == first.tobytes()
    threaded = params.model_copy(update={"threads": 3})
    many = render_batch(signals * 5, rates * 5, representation, threaded)
    assert many.tobytes() == np.concatenate([first] * 5).tobytes()


@pytest.mark.parametrize("representation", REPS)
def test_magnitude_and_offset_do_not_matter(tiny_params: Params, representation: str) -> None:
    rng = np.random.default_rng(2)
    x = np.cumsum(rng.normal(size=1000)) + 5 * np.sin(np.arange(1000) / 9)
    params = tiny_params.images
    plain, binary, huge, tiny = render_batch(
        [x, x * 2.0**70, x * 1e30, x * 1e-30], 100, representation, params
    )
    assert plain.tobytes() == binary.tobytes(), "a power-of-two gain is exact"
    assert np.abs(plain.astype(int) - huge).max() <= 1
    assert np.abs(plain.astype(int) - tiny).max() <= 1


def test_python_lists_render_like_arrays(tiny_params: Params) -> None:
    signal = np.sin(np.linspace(0, 12, 500))
    for representation in REPS:
        images = tiny_params.images
        from_list = render_batch([signal.tolist()], 100, representation, images)
        from_array = render_batch([signal], 100, representation, images)
        assert from_list.tobytes() == from_array.tobytes()


def test_render_all_covers_configured_representations(tiny_params: Params) -> None:
    signals = [np.sin(np.linspace(0, 20, 600))] * 2
    images = render_all(signals, 100, tiny_params.images)
    assert list(images) == list(tiny_params.images.representations)
    assert all(a.shape == (2, 3, 32, 32) for a in images.values())


def test_every_representation_is_configurable(tiny_params: Params) -> None:
    params = tiny_params.images.model_copy(update={"representations": tuple(REPS)})
    images = render_all([np.sin(np.linspace(0, 20, 600))], 100, params)
    assert sorted(images) == REPS


def test_unknown_representation_is_named(tiny_params: Params) -> None:
    with pytest.raises(ValueError, match=r"'wavelet'.*known"):
        render_batch([np.zeros(10)], 100, "wavelet", tiny_params.images)


@pytest.mark.parametrize("representation", REPS)
def test_empty_batch(tiny_params: Params, representation: str) -> None:
    images = render_batch([], 100, representation, tiny_params.images)
    assert images.shape == (0, 3, 32, 32)


def test_renders_into_a_given_buffer(tiny_params: Params) -> None:
    signals = _mixed_batch(np.random.default_rng(4))
    params = tiny_params.images
    buffer = np.zeros((8, 3, 32, 32), dtype=np.uint8)
    assert render_batch(signals, 100, "gasf", params, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, render_batch(signals, 100, "gasf", params))
    with pytest.raises(ValueError, match="out must be uint8"):
        render_batch(signals, 100, "gasf", params, out=buffer[:3])


def test_blas_threads_are_restored_after_rendering(tiny_params: Params) -> None:
    from threadpoolctl import ThreadpoolController

    before = [lib["num_threads"] for lib in ThreadpoolController().info()]
    render_batch([np.sin(np.arange(500.0))] * 20, 100, "spectrogram", tiny_params.images)
    assert [lib["num_threads"] for lib in ThreadpoolController().info()] == before
