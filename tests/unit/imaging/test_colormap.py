from __future__ import annotations

import matplotlib
import numpy as np

from biomoe.imaging.colormap import VIRIDIS_LUT, apply_colormap


def test_lut_is_viridis_without_matplotlib_at_runtime() -> None:
    reference = np.round(matplotlib.colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255)
    assert VIRIDIS_LUT.shape == (256, 3) and VIRIDIS_LUT.dtype == np.uint8
    assert np.abs(VIRIDIS_LUT.astype(int) - reference).max() <= 6


def test_green_rises_monotonically_so_brightness_orders_values() -> None:
    assert (np.diff(VIRIDIS_LUT[:, 1].astype(int)) >= 0).all()


def test_apply_colormap_puts_channels_first_and_clips() -> None:
    rgb = apply_colormap(np.array([[[-1.0, 0.0], [1.0, 2.0]]]))
    assert rgb.shape == (1, 3, 2, 2) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, :, 0, 0], VIRIDIS_LUT[0])
    np.testing.assert_array_equal(rgb[0, :, 1, 1], VIRIDIS_LUT[255])
