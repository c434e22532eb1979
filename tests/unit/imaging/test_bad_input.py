"""Bad windows: a clear DataError naming window, file and rule, or a documented fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biomoe.config import Params
from biomoe.errors import DataError
from biomoe.imaging.colormap import COLORMAPS
from biomoe.imaging.params import ImageParams
from biomoe.imaging.phase import MASKED
from biomoe.imaging.render import REPRESENTATIONS, min_samples, render_batch
from biomoe.imaging.shards import write_image_shards
from biomoe.io import sha256_tree

REPS = sorted(REPRESENTATIONS)
IDS = ["S01/LOW_1/Eda", "S01/HIGH_2/Eda"]
FILES = ["data/raw/train/Eda/S01.csv", "data/raw/train/Eda/S01.csv"]


def _render(signal: np.ndarray, representation: str, params: ImageParams) -> np.ndarray:
    good = np.sin(np.linspace(0, 30, 1000))
    return render_batch([good, signal], 100, representation, params, IDS, FILES)


@pytest.mark.parametrize("representation", REPS)
def test_all_nan_window_is_an_error_naming_window_and_file(
    tiny_params: Params, representation: str
) -> None:
    with pytest.raises(DataError, match=r"S01\.csv.*'S01/HIGH_2/Eda'.*no finite sample") as error:
        _render(np.full(1000, np.nan), representation, tiny_params.images)
    assert error.value.file == FILES[1] and error.value.segment == IDS[1]
    assert representation in error.value.rule


@pytest.mark.parametrize("representation", REPS)
@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_samples_are_an_error(
    tiny_params: Params, representation: str, bad: float
) -> None:
    signal = np.sin(np.linspace(0, 30, 1000))
    signal[500] = bad
    with pytest.raises(DataError, match=r"'S01/HIGH_2/Eda'.*infinite samples.*1 of 1000"):
        _render(signal, representation, tiny_params.images)


@pytest.mark.parametrize("representation", REPS)
def test_too_short_is_an_error_naming_the_minimum_and_its_parameter(
    tiny_params: Params, representation: str
) -> None:
    params = tiny_params.images
    need, why = min_samples(representation, params, 100)
    signal = np.r_[np.sin(np.arange(need + 5) / 3.0), [np.nan] * 50]
    with pytest.raises(DataError, match=rf"has {need - 1} samples, fewer than the {need}") as error:
        _render(signal[: need - 1], representation, params)
    assert why in str(error.value)
    assert _render(signal[:need], representation, params)[1].std() > 0, "the minimum renders"


def test_minimums_follow_their_parameters(tiny_params: Params) -> None:
    params = tiny_params.images
    assert min_samples("spectrogram", params, 100)[0] == params.spectrogram.n_fft
    assert min_samples("phase", params, 100)[0] == params.spectrogram.n_fft
    assert min_samples("scalogram", params, 100)[0] == 200  # one period of 0.5 Hz at 100 Hz
    assert min_samples("scalogram", params, 4)[0] == 8
    assert min_samples("mtf", params, 100)[0] == params.markov.n_bins + 1
    embedded = params.model_copy(
        update={"recurrence": params.recurrence.model_copy(update={"dimension": 3})}
    )
    assert min_samples("recurrence", embedded, 100)[0] == 4


def _uniform(image: np.ndarray) -> np.ndarray:
    colours = np.unique(image.reshape(3, -1), axis=1)
    assert colours.shape[1] == 1, f"expected one colour, got {colours.shape[1]}"
    return colours[:, 0]


@pytest.mark.parametrize(
    ("representation", "expected"),
    [
        ("spectrogram", lambda p: COLORMAPS[p.spectrogram.colormap][0]),
        ("phase", lambda p: np.array(MASKED)),
        ("recurrence", lambda p: COLORMAPS[p.recurrence.colormap][0]),
        ("gasf", lambda p: COLORMAPS[p.gramian.colormap][255]),
        ("gadf", lambda p: COLORMAPS[p.gramian.colormap][127]),
        ("mtf", lambda p: COLORMAPS[p.markov.colormap][255]),
        ("scalogram", lambda p: COLORMAPS[p.scalogram.colormap][0]),
    ],
)
def test_constant_windows_render_their_documented_uniform_colour(
    tiny_params: Params, representation: str, expected: object
) -> None:
    params = tiny_params.images
    for level in (0.0, 98.0, -3e20):
        image = _render(np.full(1000, level), representation, params)[1]
        colour = _uniform(image)
        np.testing.assert_array_equal(colour, expected(params))  # type: ignore[operator]
        assert colour.any(), "never black"


@pytest.mark.parametrize("threshold", ["point", "distance"])
def test_constant_window_is_wholly_recurrent_when_thresholded(
    tiny_params: Params, threshold: str
) -> None:
    params = tiny_params.images
    thresholded = params.model_copy(
        update={"recurrence": params.recurrence.model_copy(update={"threshold": threshold})}
    )
    image = _render(np.full(1000, 7.0), "recurrence", thresholded)[1]
    np.testing.assert_array_equal(_uniform(image), COLORMAPS[params.recurrence.colormap][0])


def test_constant_waveform_is_flat_lines_not_black(tiny_params: Params) -> None:
    image = _render(np.full(1000, 98.0), "waveform", tiny_params.images)[1].astype(int)
    assert (np.abs(image[0].sum(axis=0) - 255) <= 2).all(), "every column draws a 1-px line"
    assert (image[0] == image[0][:, :1]).all(), "flat: the same in every column"
    assert abs((image[0][:, 0] * np.arange(32)).sum() / image[0][:, 0].sum() - 15.5) < 0.1


@pytest.mark.parametrize("representation", sorted(set(REPS) - {"gadf"}))
def test_one_huge_spike_still_draws_something(tiny_params: Params, representation: str) -> None:
    signal = np.sin(np.linspace(0, 30, 1000))
    signal[400] = 1e30
    image = _render(signal, representation, tiny_params.images)[1]
    assert image.max() > 100 and image.reshape(3, -1).std(axis=1).max() > 5


def test_one_huge_spike_leaves_the_gadf_uniform_as_documented(tiny_params: Params) -> None:
    """Min-max scaling puts the spike at angle 0 and everything else at pi: sin of their
    differences is 0, the middle colour; the GASF (cos of sums) shows the spike as a cross."""
    signal = np.sin(np.linspace(0, 30, 1000))
    signal[400] = 1e30
    params = tiny_params.images
    gadf = _render(signal, "gadf", params)[1]
    np.testing.assert_array_equal(_uniform(gadf), COLORMAPS[params.gramian.colormap][127])
    gasf = _render(signal, "gasf", params)[1]
    assert len(np.unique(gasf.reshape(3, -1), axis=1)[0]) == 2


def test_the_stage_names_the_bad_window_and_keeps_the_previous_output(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    out = tmp_path / "images"
    write_image_shards(windows, out, tiny_params.images, progress=False)
    before = sha256_tree(out)
    broken = windows.copy()
    broken.at[5, "signal"] = np.full(400, np.nan, dtype=np.float32)
    row = broken.loc[5]
    with pytest.raises(DataError) as error:
        write_image_shards(broken, out, tiny_params.images, progress=False)
    assert error.value.segment == row["window_id"]
    assert error.value.file == row["source_file"]
    assert "no finite sample" in str(error.value)
    assert sha256_tree(out) == before
