"""Where pyts has the same transform, ours gives the same numbers before colour mapping, and the
rendered levels are those numbers quantised.

pyts compiles about a hundred numba signatures eagerly when imported (30-45 s on two cores), so
it is imported here with numba's JIT off: the same algorithm, interpreted, on small inputs.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType

import numpy as np
import pytest

from biomoe.config import Params
from biomoe.imaging.colormap import COLORMAPS, LEVELS
from biomoe.imaging.gramian import gramian_field
from biomoe.imaging.markov import markov_field
from biomoe.imaging.recurrence import recurrence_matrix, recurrent_pairs
from biomoe.imaging.render import render_batch


def _interpreted(name: str) -> ModuleType:
    numba = pytest.importorskip("numba")
    pytest.importorskip("pyts")
    if name in sys.modules:
        return sys.modules[name]
    previous = numba.config.DISABLE_JIT
    numba.config.DISABLE_JIT = True
    try:
        return importlib.import_module(name)
    finally:
        numba.config.DISABLE_JIT = previous


pyts_image = _interpreted("pyts.image")
pyts_paa = _interpreted("pyts.approximation")

CASES = [(200, 40), (203, 40), (400, 32), (48, 48)]  # (length, size): divisible or not


def _walks(length: int, n: int = 4, seed: int = 0) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).normal(size=(n, length)), axis=1)


def _paa(x: np.ndarray, size: int) -> np.ndarray:
    transform = pyts_paa.PiecewiseAggregateApproximation(
        window_size=None, output_size=size, overlapping=False
    )
    return transform.transform(x)


def _near(images: np.ndarray, levels: np.ndarray, colormap: str) -> np.ndarray:
    """Whether each pixel has the colour of ``levels`` or of a level next to it."""
    lut = COLORMAPS[colormap]
    hits = [
        (images == np.moveaxis(lut[np.clip(levels + step, 0, 255)], -1, 1)).all(axis=1)
        for step in (-1, 0, 1)
    ]
    return hits[0] | hits[1] | hits[2], hits[1]


@pytest.mark.parametrize(
    ("length", "size", "dimension", "delay"),
    [*((n, s, 1, 1) for n, s in CASES), *((n, s, 3, 2) for n, s in CASES if n > s + 4)],
)
def test_recurrence_distances_match_pyts(
    tiny_params: Params, length: int, size: int, dimension: int, delay: int
) -> None:
    span = (dimension - 1) * delay
    x = _walks(length)
    recurrence = tiny_params.images.recurrence.model_copy(
        update={"dimension": dimension, "time_delay": delay}
    )
    ours = recurrence_matrix(list(x), recurrence, size)
    reference = pyts_image.RecurrencePlot(dimension=dimension, time_delay=delay).transform(
        _paa(x, size + span)
    )
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-9 * np.abs(reference).max())
    for threshold in ("point", "distance"):
        thresholded = recurrence.model_copy(update={"threshold": threshold, "percentage": 20.0})
        expected = pyts_image.RecurrencePlot(
            dimension=dimension, time_delay=delay, threshold=threshold, percentage=20
        ).transform(_paa(x, size + span))
        np.testing.assert_array_equal(recurrent_pairs(ours, thresholded), expected == 1)


@pytest.mark.parametrize(("length", "size"), CASES)
@pytest.mark.parametrize("method", ["summation", "difference"])
def test_gramian_fields_match_pyts(length: int, size: int, method: str) -> None:
    x = _walks(length)
    ours = gramian_field(list(x), size, method)  # type: ignore[arg-type]
    reference = pyts_image.GramianAngularField(image_size=size, method=method).transform(x)
    # sqrt(1 - cos^2) near cos = +-1 turns rounding of the scaling into ~1e-8
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("length", "size"), CASES)
@pytest.mark.parametrize("n_bins", [2, 5, 8])
def test_markov_fields_match_pyts(length: int, size: int, n_bins: int) -> None:
    x = _walks(length)
    ours = markov_field(list(x), size, n_bins)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pyts_image.MarkovTransitionField(image_size=size, n_bins=n_bins).transform(x)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_bins", [5, 8])
def test_markov_field_with_tied_quantiles_is_pyts_definition(n_bins: int) -> None:
    """On quantised data (SpO2 is whole percent) quantiles coincide; pyts then drops repeated
    edges (a path its interpreted import cannot run), which relabels bins without changing
    which samples share one, so the field is the same: checked pixel by pixel."""
    x = np.round(_walks(120, n=2) / 8)
    ours = markov_field(list(x), 12, n_bins)
    for window, field in zip(x, ours, strict=True):
        edges = np.unique(np.percentile(window, np.linspace(0, 100, n_bins + 1)[1:-1]))
        assert len(edges) < n_bins - 1, "the case has tied quantiles"
        bins = np.searchsorted(edges, window, side="left")
        counts = np.zeros((n_bins, n_bins))
        np.add.at(counts, (bins[:-1], bins[1:]), 1)
        transitions = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        bounds = np.linspace(0, len(window), 13).astype(int)
        for i in range(12):
            for j in range(12):
                rows = bins[bounds[i] : bounds[i + 1]]
                cols = bins[bounds[j] : bounds[j + 1]]
                expected = transitions[rows][:, cols].mean()
                assert abs(field[i, j] - expected) < 1e-12


def test_constant_gramian_follows_the_pyts_convention() -> None:
    ours = gramian_field([np.full(100, 3.0)], 20, "summation")
    reference = pyts_image.GramianAngularField(image_size=20).transform(np.full((1, 100), 3.0))
    np.testing.assert_allclose(ours, reference, atol=1e-12)


@pytest.mark.parametrize(
    ("representation", "reference"),
    [
        ("recurrence", lambda x, p: pyts_image.RecurrencePlot().transform(_paa(x, p.size))),
        ("gasf", lambda x, p: (pyts_image.GramianAngularField(p.size).transform(x) + 1) / 2),
        (
            "gadf",
            lambda x, p: (pyts_image.GramianAngularField(p.size, method="d").transform(x) + 1) / 2,
        ),
        ("mtf", lambda x, p: pyts_image.MarkovTransitionField(p.size).transform(x)),
    ],
)
def test_rendered_levels_are_the_pyts_values_quantised(
    tiny_params: Params, representation: str, reference: object
) -> None:
    """Colour -> level -> value agrees with pyts to one level of 256 (float32 rendering),
    after the documented per-window scaling (RP: by the largest distance; MTF: by the
    largest transition probability, 1/``n_bins`` apart so compared on the unscaled field)."""
    params = tiny_params.images
    x = _walks(500, n=2, seed=3)
    images = render_batch(list(x), 100, representation, params)
    colormap = {"recurrence": params.recurrence.colormap, "mtf": params.markov.colormap}.get(
        representation, params.gramian.colormap
    )
    values = reference(x, params)  # type: ignore[operator]
    if representation == "recurrence":
        values = values / values.max(axis=(1, 2), keepdims=True)
    if representation == "mtf":
        values = markov_field(list(x), params.size, params.markov.n_bins, 1.0)
    expected = np.floor(values * float(LEVELS)).astype(np.int64)
    near, exact = _near(images, expected, colormap)
    assert near.all()
    assert exact.mean() > 0.99
