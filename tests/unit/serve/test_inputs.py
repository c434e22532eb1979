"""What the served classifier accepts: every rule, and the message that names row, column, rule."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from biomoe.config import Params
from biomoe.errors import DataError
from biomoe.serve.inputs import MAX_LISTED, WindowSpec, check_windows
from biomoe.serve.params import ServeParams
from biomoe.serve.pyfunc import input_example, serving_config

MODALITIES = ("Bvp", "Eda")
SPEC = WindowSpec(fs=100, min_seconds=5.0, max_seconds=60.0, max_nan_fraction=0.05)


def _window(seconds: float = 10.0) -> list[float]:
    t = np.arange(round(seconds * SPEC.fs)) / SPEC.fs
    return np.sin(2 * np.pi * t).tolist()


def _frame(rows: int = 2, **cells: object) -> pd.DataFrame:
    frame = pd.DataFrame({m: [_window() for _ in range(rows)] for m in MODALITIES})
    for column, value in cells.items():
        frame[column] = pd.Series([value] + [_window()] * (rows - 1), dtype=object)
    return frame


def _error(frame: object) -> str:
    with pytest.raises(DataError) as info:
        check_windows(frame, MODALITIES, SPEC)
    return str(info.value)


def test_valid_windows_come_back_as_float32_per_modality() -> None:
    frame = _frame(rows=3)
    frame["Bvp"] = [np.arange(500), list(range(600)), np.linspace(0, 1, 6000)]  # ints are fine
    frame["extra"] = "ignored"
    windows = check_windows(frame, MODALITIES, SPEC)
    assert set(windows) == set(MODALITIES)
    assert [w.size for w in windows["Bvp"]] == [500, 600, 6000]
    assert all(w.dtype == np.float32 for ws in windows.values() for w in ws)


def test_missing_values_up_to_the_trained_fraction_are_accepted() -> None:
    window: list[float | None] = list(_window())
    window[10:40] = [None] * 30  # null, as JSON carries a missing sample
    window[40:60] = [float("nan")] * 20  # 5 % missing in all: the limit
    windows = check_windows(_frame(Eda=window), MODALITIES, SPEC)
    assert np.isnan(windows["Eda"][0]).sum() == 50


def test_missing_modality_column_is_named() -> None:
    message = _error(_frame().drop(columns="Eda"))
    assert "lacks modality column(s) ['Eda']" in message
    assert "['Bvp', 'Eda']" in message


def test_empty_input() -> None:
    message = _error(_frame().iloc[:0])
    assert "input is empty: no rows" in message


def test_not_a_table() -> None:
    assert "input is a list, not a table" in _error([[1.0, 2.0]])


@pytest.mark.parametrize(
    ("seconds", "samples"),
    [(3.0, 300), (60.01, 6001), (0.0, 0)],
)
def test_length_outside_the_trained_range_names_row_column_and_range(
    seconds: float, samples: int
) -> None:
    message = _error(_frame(rows=3, Eda=_window(seconds)))
    assert f"row 0, column 'Eda': window has {samples} samples" in message
    assert "outside the 5-60 s the model was trained on" in message
    assert "5-60 s at 100 Hz (500-6000 samples)" in message


def test_too_many_missing_samples() -> None:
    window = _window()
    window[:100] = [float("nan")] * 100
    message = _error(_frame(Bvp=window))
    assert "row 0, column 'Bvp': window is 10.0% missing (100 of 1000 samples NaN/null)" in message
    assert "at most 5.0% may be missing" in message


def test_all_missing_window() -> None:
    message = _error(_frame(Bvp=[None] * 1000))
    assert "row 0, column 'Bvp': window has no finite sample" in message


def test_infinite_values_are_never_accepted() -> None:
    window = _window()
    window[7] = float("inf")
    window[9] = float("-inf")
    message = _error(_frame(Eda=window))
    assert "row 0, column 'Eda': window holds 2 infinite value(s), the first at sample 7" in message


@pytest.mark.parametrize(
    ("cell", "rule"),
    [
        (None, "cell is null, not an array of numbers"),
        (3.5, "cell is a float (3.5), not an array of numbers"),
        ("1,2,3", "cell is the text '1,2,3', not an array of numbers"),
        ([[1.0, 2.0], [3.0]], "cell is ragged"),
        ([[1.0, 2.0], [3.0, 4.0]], "cell is a 2-D array (2, 2); expected a 1-D array"),
        ([1.0, "x", 2.0], "sample 1 is the text 'x', not a number"),
        ([1.0, None, {"v": 2.0}], "sample 2 is a dict ({'v': 2.0}), not a number"),
    ],
)
def test_non_numeric_and_ragged_cells(cell: object, rule: str) -> None:
    frame = _frame()
    frame["Bvp"] = pd.Series([_window(), cell], dtype=object)
    message = _error(frame)
    assert f"row 1, column 'Bvp': {rule}" in message


def test_every_problem_is_reported_up_to_a_limit() -> None:
    rows = MAX_LISTED + 3
    frame = pd.DataFrame({m: [_window(1.0) for _ in range(rows)] for m in MODALITIES})
    message = _error(frame)
    assert message.startswith(f"{2 * rows} invalid window(s): row 0, column 'Bvp'")
    assert f"and {2 * rows - MAX_LISTED} more" in message


def test_where_names_the_cell() -> None:
    frame = _frame(Eda=_window(1.0))
    with pytest.raises(DataError, match=r"file test/Eda/S1\.csv, segment 'HIGH_1': window has"):
        check_windows(
            frame, MODALITIES, SPEC, lambda i, m: f"file test/{m}/S1.csv, segment 'HIGH_1'"
        )


def test_spec_from_params_round_trips_through_serving_json(params: Params) -> None:
    window = WindowSpec(
        params.ingest.fs,
        params.validate.min_seconds,
        params.validate.max_seconds,
        params.validate.max_nan_fraction,
    )
    config = json.loads(json.dumps(serving_config(params.images, window, params.serve)))
    spec = WindowSpec.from_json(config["window"])
    assert spec == WindowSpec(
        params.ingest.fs,
        params.validate.min_seconds,
        params.validate.max_seconds,
        params.validate.max_nan_fraction,
    )
    assert config["fs"] == params.ingest.fs
    assert ServeParams.model_validate(config["serve"]) == params.serve


def test_the_input_example_passes_and_survives_json(params: Params) -> None:
    spec = WindowSpec(
        params.ingest.fs,
        params.validate.min_seconds,
        params.validate.max_seconds,
        params.validate.max_nan_fraction,
    )
    example = input_example(list(params.ingest.modalities), spec)
    payload = json.loads(json.dumps({"dataframe_split": example.to_dict(orient="split")}))
    frame = pd.DataFrame(**payload["dataframe_split"])
    windows = check_windows(frame, params.ingest.modalities, spec)
    assert all(len(ws) == 1 and ws[0].size == 10 * spec.fs for ws in windows.values())
    spo2 = windows["SpO2"][0]
    assert 95 < spo2.min() <= spo2.max() < 100
