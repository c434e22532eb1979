from __future__ import annotations

import numpy as np

from biomoe.config import Params
from biomoe.imaging.phase import MASKED, _lut, nearest
from biomoe.imaging.render import render_batch


def _cosine(theta: float, hz: float = 12.5) -> np.ndarray:
    return np.cos(2 * np.pi * hz * np.arange(1000) / 100 + theta)


def _level(theta: float) -> int:
    return 1 + min(254, int(np.floor((np.angle(np.exp(1j * theta)) + np.pi) / (2 * np.pi) * 255)))


def test_a_bin_centred_tone_shows_its_phase_and_the_rest_is_masked(tiny_params: Params) -> None:
    """12.5 Hz is bin 16 of a 128-point STFT at 100 Hz and turns a whole number of times per
    8-sample hop, so every frame sees the same phase: the tone's own. A Hann window centred on
    the frame leaks it into bins 15 and 17 only, with the same sign."""
    params = tiny_params.images.model_copy(update={"size": 66})
    table = _lut(params.phase.colormap)
    rows = nearest(33, 66)  # 33 bins (0..25 Hz) drawn upside down
    for theta in (0.0, 1.0, -2.5):
        image = render_batch([_cosine(theta)], 100, "phase", params)[0]
        middle = image[:, :, 10:-10]
        for row, bin_ in enumerate(32 - rows):
            colour = table[_level(theta)] if bin_ in (15, 16, 17) else np.array(MASKED)
            assert (middle[:, row] == colour[:, None]).all(), (theta, row, bin_)


def test_the_colour_map_is_cyclic(tiny_params: Params) -> None:
    table = _lut(tiny_params.images.phase.colormap).astype(int)
    assert np.abs(table[1] - table[255]).max() <= 12, "-pi and pi look alike"
    assert np.abs(table[1] - table[128]).max() > 150, "opposite phases do not"
    assert not (table[1:] == MASKED).all(axis=1).any(), "grey means masked only"


def test_power_threshold_follows_the_parameter(tiny_params: Params) -> None:
    noisy = _cosine(0.0) + 1e-3 * np.random.default_rng(0).normal(size=1000)
    shown = []
    for db in (20.0, 80.0):
        params = tiny_params.images.model_copy(
            update={"phase": tiny_params.images.phase.model_copy(update={"mask_below_db": db})}
        )
        image = render_batch([noisy], 100, "phase", params)[0]
        shown.append((image != np.array(MASKED)[:, None, None]).any(axis=0).mean())
    assert shown[0] < 0.2 < shown[1]
