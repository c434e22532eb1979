from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from biomoe.imaging.colormap import COLORMAPS, VIRIDIS_LUT, apply_colormap, colorize, to_levels


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


def test_twilight_is_matplotlibs_and_cyclic() -> None:
    reference = np.round(matplotlib.colormaps["twilight"](np.linspace(0, 1, 256))[:, :3] * 255)
    table = COLORMAPS["twilight"].astype(int)
    assert np.abs(table - reference).max() <= 6
    assert np.abs(table[0] - table[255]).max() <= 1


@pytest.mark.parametrize("width", [6, 7])
@pytest.mark.parametrize("name", sorted(COLORMAPS))
def test_colorize_is_a_plain_table_lookup(width: int, name: str) -> None:
    levels = np.random.default_rng(width).integers(0, 256, size=(11, 5, width), dtype=np.uint8)
    lut = COLORMAPS[name]
    expected = np.moveaxis(lut[levels], -1, 1)
    np.testing.assert_array_equal(colorize(levels, lut), expected)
    out = np.zeros((11, 3, 5, width), dtype=np.uint8)
    assert colorize(levels, lut, out) is out
    np.testing.assert_array_equal(out, expected)


def test_levels_split_zero_to_one_evenly() -> None:
    values = np.array([-0.5, 0.0, 0.5 / 256, 1.5 / 256, 0.5, 1 - 1e-6, 1.0, 7.0])
    np.testing.assert_array_equal(to_levels(values), [0, 0, 0, 1, 127, 255, 255, 255])
    np.testing.assert_array_equal(
        np.bincount(to_levels(np.linspace(0, 1, 256 * 100)), minlength=256), 100
    )
