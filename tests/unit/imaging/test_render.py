from __future__ import annotations

import numpy as np
import pytest

from biomoe.config import Params
from biomoe.imaging import REPRESENTATIONS, render_all, render_batch

REPS = sorted(REPRESENTATIONS)


def _mixed_batch(rng: np.random.Generator) -> list[np.ndarray]:
    signals = [rng.normal(size=int(n)).astype(np.float32) for n in rng.integers(200, 900, 6)]
    signals[1][50:80] = np.nan
    return [*signals, np.full(400, 2.5), np.array([1.0, 2.0, 0.5]), np.array([np.nan] * 10)]


@pytest.mark.parametrize("representation", REPS)
@pytest.mark.parametrize("size", [32, 64])
def test_shape_dtype_and_valid_output(tiny_params: Params, representation: str, size: int) -> None:
    params = tiny_params.images.model_copy(update={"size": size})
    images = render_batch(_mixed_batch(np.random.default_rng(0)), 100, representation, params)
    assert images.shape == (9, 3, size, size)
    assert images.dtype == np.uint8
    assert images[:6].reshape(6, -1).max(axis=1).min() > 100, "every real signal draws something"


@pytest.mark.parametrize("representation", REPS)
def test_byte_identical_and_independent_of_the_batch(
    tiny_params: Params, representation: str
) -> None:
    signals = _mixed_batch(np.random.default_rng(1))
    rates = [100, 50, 100, 200, 100, 100, 100, 100, 100]
    params = tiny_params.images
    first = render_batch(signals, rates, representation, params)
    again = render_batch([s.copy() for s in signals], np.array(rates), representation, params)
    assert first.tobytes() == again.tobytes()
    pairs = zip(signals, rates, strict=True)
    alone = np.concatenate([render_batch([s], [r], representation, params) for s, r in pairs])
    assert alone.tobytes() == first.tobytes()


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


def test_unknown_representation_is_named(tiny_params: Params) -> None:
    with pytest.raises(ValueError, match=r"'scalogram'.*known"):
        render_batch([np.zeros(10)], 100, "scalogram", tiny_params.images)


def test_empty_batch(tiny_params: Params) -> None:
    assert render_batch([], 100, "waveform", tiny_params.images).shape == (0, 3, 32, 32)
