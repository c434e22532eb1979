from __future__ import annotations

import numpy as np
import pytest

from biomoe.errors import DataError
from biomoe.imaging.signals import (
    as_rates,
    clean_signal,
    columns,
    paa,
    prepare,
    robust_range,
    segment_bounds,
)


def test_clean_signal_trims_padding_and_interpolates_gaps() -> None:
    raw = np.array([np.nan, 1.0, np.nan, 3.0, np.inf, 7.0, np.nan, np.nan], dtype=np.float32)
    np.testing.assert_array_equal(clean_signal(raw), [1.0, 2.0, 3.0, 5.0, 7.0])


@pytest.mark.parametrize("raw", [[], [np.nan, np.nan], None])
def test_clean_signal_without_valid_samples_is_a_single_zero(raw: object) -> None:
    np.testing.assert_array_equal(clean_signal(raw), [0.0])


def test_columns_average_long_signals_and_interpolate_short_ones() -> None:
    long = np.arange(8.0)
    short = np.array([0.0, 4.0])
    trace, low, high = columns([long, short], 4)
    np.testing.assert_allclose(trace[0], [0.5, 2.5, 4.5, 6.5])
    np.testing.assert_array_equal(low[0], [0, 2, 4, 6])
    np.testing.assert_array_equal(high[0], [1, 3, 5, 7])
    np.testing.assert_allclose(trace[1], [0.0, 1.0, 3.0, 4.0])
    assert (low[1] <= high[1]).all()


def test_as_rates_broadcasts_and_checks() -> None:
    np.testing.assert_array_equal(as_rates(100, 3), [100, 100, 100])
    np.testing.assert_array_equal(as_rates([100, 200], 2), [100, 200])
    with pytest.raises(ValueError, match="2 entries for 3 signals"):
        as_rates([100, 200], 3)
    with pytest.raises(DataError, match="positive"):
        as_rates([100, 0], 2)


def test_prepare_rescales_by_a_power_of_two_and_keeps_clean_windows() -> None:
    raw = [np.array([3.0, -6.0, 1.5]), np.array([np.nan, 1e30, 2e30, np.nan]), np.zeros(3)]
    prepared = prepare(raw, 2, "waveform", "rule")
    np.testing.assert_array_equal(prepared[0], [0.375, -0.75, 0.1875])  # / 8
    assert 0.5 <= np.abs(prepared[1]).max() < 1.0 and prepared[1].size == 2
    np.testing.assert_array_equal(prepared[2], [0.0, 0.0, 0.0])


def test_prepare_names_window_and_file() -> None:
    with pytest.raises(DataError, match=r"f\.csv.*'w1'.*x image: window has 1 samples.*rule r"):
        prepare(
            [np.ones(3), np.array([np.nan, 2.0])], 2, "x", "rule r", ["w0", "w1"], ["", "f.csv"]
        )
    with pytest.raises(DataError, match=r"'window 0'.*no finite sample"):
        prepare([[np.nan]], 2, "x", "r")


def test_segments_are_pyts_paa_bounds_or_nearest_samples() -> None:
    start, end = segment_bounds(10, 4)
    np.testing.assert_array_equal(start, np.linspace(0, 10, 5).astype(int)[:-1])
    np.testing.assert_array_equal(end, [2, 5, 7, 10])
    start, end = segment_bounds(3, 6)
    np.testing.assert_array_equal(start, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(end - start, 1)


def test_paa_averages_segments_of_ragged_windows() -> None:
    signals = [np.arange(10.0), np.array([1.0, 5.0, 9.0]), np.arange(8.0) ** 2]
    result = paa(signals, 4)
    np.testing.assert_allclose(result[0], [0.5, 3.0, 5.5, 8.0])
    np.testing.assert_allclose(result[1], [1.0, 5.0, 5.0, 9.0])
    np.testing.assert_allclose(result[2], [0.5, 6.5, 20.5, 42.5])


def test_robust_range_matches_numpy_per_window() -> None:
    rng = np.random.default_rng(0)
    signals = [rng.normal(size=n) for n in (50, 80, 50, 3)]
    low, high = robust_range(signals, 0.1)
    for signal, lo, hi in zip(signals, low[:, 0], high[:, 0], strict=True):
        np.testing.assert_allclose([lo, hi], np.quantile(signal, [0.1, 0.9]))
