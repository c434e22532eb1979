from __future__ import annotations

import numpy as np

from biomoe.config import Params
from biomoe.imaging.render import render_batch

RED, GREEN, BLUE = 0, 1, 2


def _waveform(signals: list[np.ndarray], params: Params, size: int = 32) -> np.ndarray:
    images = params.images.model_copy(update={"size": size})
    return render_batch(signals, 100, "waveform", images).astype(int)


def _line_rows(channel: np.ndarray) -> np.ndarray:
    """Row of the brightest pixel in each column (intensity-weighted)."""
    rows = np.arange(channel.shape[0])[:, None]
    return (channel * rows).sum(axis=0) / np.maximum(channel.sum(axis=0), 1)


def test_rising_and_falling_ramps_mirror_each_other(tiny_params: Params) -> None:
    ramp = np.linspace(0.0, 1.0, 4 * 32)
    rising, falling = _waveform([ramp, ramp[::-1]], tiny_params)
    up, down = _line_rows(rising[RED]), _line_rows(falling[RED])
    assert up[0] > 26 and up[-1] < 5, "a rising trace goes from bottom-left to top-right"
    assert down[0] < 5 and down[-1] > 26
    assert np.abs(rising[RED] - falling[RED][:, ::-1]).max() <= 1
    assert (_line_rows(rising[GREEN]) < 8).all(), "positive slope sits above the middle"
    assert (_line_rows(falling[GREEN]) > 24).all(), "negative slope sits below the middle"


def test_constant_signals_draw_flat_middle_lines_at_any_level(tiny_params: Params) -> None:
    images = _waveform([np.zeros(500), np.full(500, 1e6), np.full(2, -3.0)], tiny_params)
    assert (images == images[0]).all()
    for channel in (RED, GREEN):
        np.testing.assert_allclose(_line_rows(images[0][channel]), 15.5, atol=0.6)
    assert images[0].sum(axis=(0, 2)).argmax() in (15, 16)


def test_scaling_is_per_window_and_robust_to_a_spike(tiny_params: Params) -> None:
    x = np.sin(np.linspace(0, 6 * np.pi, 640))
    spiked = x.copy()
    spiked[100] = 1e4
    plain, shifted, with_spike = _waveform([x, 50.0 + 3.0 * x, spiked], tiny_params)
    assert np.abs(plain - shifted).max() <= 1, "offset and gain do not change the image"
    rows = _line_rows(with_spike[RED])
    assert rows.max() - rows.min() > 20, "one outlier does not squash the trace"


def test_blue_band_keeps_oscillation_that_resampling_averages_out(tiny_params: Params) -> None:
    fast = np.sin(2 * np.pi * 40.0 * np.arange(1000) / 100.0)
    image = _waveform([fast], tiny_params)[0]
    covered = (image[BLUE] > 128).sum(axis=0)
    assert covered.min() > 20, "each column spans most of the oscillation's range"
    assert (image[RED] > 128).sum(axis=0).mean() < 8, "the bin-mean trace stays a thin line"


def test_nan_gaps_are_bridged(tiny_params: Params) -> None:
    ramp = np.linspace(0.0, 1.0, 320)
    gapped = ramp.copy()
    gapped[100:140] = np.nan
    clean, holed = _waveform([ramp, gapped], tiny_params)
    assert np.abs(clean - holed).max() <= 1


def test_lines_are_anti_aliased_by_pixel_coverage(tiny_params: Params) -> None:
    """A flat line covers exactly its width in every column, and moving it by a tenth of a
    pixel moves its intensity centroid by about that much (no staircase of whole pixels)."""
    from biomoe.imaging.waveform import _raster

    size, width = 32, 1.3
    centres = []
    for shift in np.linspace(0.0, 1.0, 11):
        row = np.full((1, 1, size), 10.0 + shift)
        image = _raster(row, row, np.array([width]), size, None)[0, 0].astype(float) / 255
        np.testing.assert_allclose(image.sum(axis=0), 2 * width, atol=2 / 255)
        centres.append(_line_rows(image).mean())
    steps = np.diff(centres)
    assert ((steps > 0.05) & (steps < 0.15)).all(), "every tenth of a pixel shows"
    assert abs(centres[-1] - centres[0] - 1.0) < 0.02


def test_partial_pixels_at_the_ends_of_a_steep_segment(tiny_params: Params) -> None:
    ramp = np.linspace(0.0, 1.0, 4 * 32)
    image = _waveform([ramp], tiny_params)[0][RED]
    values = np.unique(image)
    assert 0 in values and 255 in values
    assert ((values > 0) & (values < 255)).sum() > 5, "edges take intermediate intensities"
