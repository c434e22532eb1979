from __future__ import annotations

import numpy as np
import pytest

from biomoe.errors import DataError
from biomoe.imaging.signals import as_rates, clean_signal, columns


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
