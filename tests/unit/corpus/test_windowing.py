"""Resampling to the corpus rate, NaN handling, window cutting and capped seeded selection."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.corpus.conftest import sine

from biomoe.data.windowing import Candidate, candidates, choose, fill_missing, resample


def _dominant_hz(x: np.ndarray, fs: float) -> float:
    spectrum = np.abs(np.fft.rfft(x - x.mean()))
    return float(np.fft.rfftfreq(x.size, 1 / fs)[np.argmax(spectrum)])


@pytest.mark.parametrize("fs_in", [80.0, 360.0, 10.0, 62.5, 100.0])
def test_resample_keeps_length_and_frequency(fs_in: float) -> None:
    x = sine(fs_in, 20.0, 1.5)
    y = resample(x, fs_in, 100)
    assert y.shape == (2000,)
    assert _dominant_hz(y, 100) == pytest.approx(1.5, abs=0.06)
    assert np.abs(y[100:-100]).max() == pytest.approx(1.0, abs=0.05)


def test_missing_samples_are_bridged_before_resampling() -> None:
    x = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan])
    np.testing.assert_array_equal(fill_missing(x), [1.0, 1.0, 2.0, 3.0, 4.0, 4.0])
    assert not fill_missing(np.full(3, np.nan)).any()
    y = resample(np.where(np.arange(400) % 7 == 0, np.nan, sine(200.0, 2.0, 1.0)), 200.0, 100)
    assert np.isfinite(y).all() and y.shape == (200,)


def test_candidates_are_back_to_back_and_skip_incomplete_windows() -> None:
    x = sine(50.0, 10.0, 1.0)  # 500 samples at 50 Hz -> 1000 at 100 Hz -> three of 300
    assert [c.start for c in candidates(x, 50.0, 100, 300, 0.1, 7)] == [0, 300, 600]
    x[200:250] = np.nan  # half of the second window's 150 original samples... a third
    kept = candidates(x, 50.0, 100, 300, 0.1, 7)
    assert [(c.recording, c.start) for c in kept] == [(7, 0), (7, 600)]
    assert len(candidates(x, 50.0, 100, 300, 0.5, 7)) == 3
    assert candidates(sine(50.0, 2.0, 1.0), 50.0, 100, 300, 0.1, 0) == []


def test_choose_caps_reproducibly_and_keeps_order() -> None:
    found = [Candidate(i // 3, 100 * (i % 3)) for i in range(30)]
    picked = choose(found, 5, seed=0, key="ds")
    assert len(picked) == 5 and picked == sorted(picked, key=found.index)
    assert choose(found, 5, seed=0, key="ds") == picked
    assert choose(found, 5, seed=0, key="other") != picked
    assert choose(found, 50, seed=0, key="ds") == found
