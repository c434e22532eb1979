"""The per-window statistics frame the expectation suite runs on."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from biomoe.validation.stats import ROW, window_stats

NAN = float("nan")


def _table(signals: list[list[float] | None], **columns: list[object]) -> pa.Table:
    n = len(signals)
    data = {
        "window_id": [f"w{i}" for i in range(n)],
        "subject": columns.pop("subject", ["S1"] * n),
        "split": columns.pop("split", ["train"] * n),
        "sample_id": columns.pop("sample_id", [f"s{i}" for i in range(n)]),
        "modality": columns.pop("modality", ["Eda"] * n),
        "fs": columns.pop("fs", [100] * n),
        "signal": pa.array(signals, type=pa.list_(pa.float32())),
    }
    return pa.table(data)


def test_signal_statistics_ignore_nans_and_handle_empty_windows():
    signals = [[1.0, NAN, 3.0, 5.0], [2.0, 2.0], [NAN, NAN], [], None]
    frame = window_stats(_table(signals))

    assert frame[ROW].tolist() == [0, 1, 2, 3, 4]
    assert frame["signal_length"].tolist() == [4, 2, 2, 0, 0]
    np.testing.assert_allclose(frame["nan_fraction"], [0.25, 0.0, 1.0, NAN, NAN])
    np.testing.assert_allclose(frame["signal_min"], [1.0, 2.0, NAN, NAN, NAN])
    np.testing.assert_allclose(frame["signal_max"], [5.0, 2.0, NAN, NAN, NAN])
    np.testing.assert_allclose(frame["signal_std"], [np.std([1.0, 3.0, 5.0]), 0.0, NAN, NAN, NAN])
    np.testing.assert_allclose(frame["duration_s"], [0.04, 0.02, 0.02, 0.0, 0.0])
    assert set(frame["signal_dtype"]) == {"float32"}


def test_std_is_exact_for_a_tiny_variation_on_a_large_offset():
    wiggle = 97.0 + 1e-3 * np.sin(np.arange(1000))
    frame = window_stats(_table([wiggle.astype(np.float32).tolist(), [97.0] * 1000]))

    assert frame["signal_std"][0] == pytest.approx(np.std(wiggle.astype(np.float32)), rel=1e-6)
    assert frame["signal_std"][1] == 0.0


def test_cross_window_columns():
    frame = window_stats(
        _table(
            [[1.0]] * 5,
            subject=["A", "A", "B", "B", "B"],
            split=["train", "test", "train", "train", "train"],
            sample_id=["a1", "a1", "b1", "b1", "b2"],
            modality=["Eda", "Bvp", "Eda", "Bvp", "Eda"],
        )
    )

    assert frame["subject_split_count"].tolist() == [2, 2, 1, 1, 1]
    assert frame["subject_splits"].tolist()[:2] == ["test,train", "test,train"]
    assert frame["sample_modalities_complete"].tolist() == [True, True, True, True, False]
    assert frame["sample_missing_modalities"].tolist()[-1] == "Bvp"


def test_missing_inputs_leave_their_statistics_out():
    table = _table([[1.0, 2.0]]).drop_columns(["fs", "subject"])
    frame = window_stats(table.set_column(table.column_names.index("signal"), "signal", ["x"]))

    assert frame["signal_dtype"].tolist() == ["string"]
    for absent in ("signal_length", "duration_s", "subject_split_count"):
        assert absent not in frame
