"""CSV/Parquet reader: wide and long layouts, recordings and labels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biomoe.data.readers import ReadSpec, read_recordings
from biomoe.errors import DataError

LONG = ReadSpec(
    "csv",
    fs=4.0,
    layout="long",
    channel_column="sensor",
    value_column="value",
    recording_column="trial",
    label_column="condition",
)


def _long_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial": ["t2", "t2", "t2", "t1", "t1", "t2"],
            "sensor": ["ppg", "acc", "ppg", "ppg", "ppg", "acc"],
            "value": [1.0, 5.0, 2.0, 9.0, None, 6.0],
            "condition": ["rest", "rest", "rest", "task", "task", "rest"],
        }
    )


def test_wide_csv_with_channel_selection(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    pd.DataFrame({"time": ["a", "b", "c"], "x": [1, 2, 3], "y": [4.5, None, 6]}).to_csv(
        path, index=False
    )
    spec = ReadSpec("csv", fs=2.0, layout="wide", channels=("x", "y"))
    recordings = read_recordings(path, spec)
    assert [(r.channel, r.record, r.fs) for r in recordings] == [
        ("x", "all", 2.0),
        ("y", "all", 2.0),
    ]
    np.testing.assert_array_equal(recordings[1].signal, np.float32([4.5, np.nan, 6]))
    with pytest.raises(DataError, match="not a number: 'a'") as caught:
        read_recordings(path, ReadSpec("csv", fs=2.0, layout="wide"))
    assert caught.value.segment == "time"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_long_layout_groups_recordings_in_file_order(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"long{suffix}"
    frame = _long_frame()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    spec = replace(LONG, format=suffix[1:])
    recordings = read_recordings(path, spec)
    assert [(r.record, r.channel, r.label) for r in recordings] == [
        ("t2", "ppg", "rest"),
        ("t2", "acc", "rest"),
        ("t1", "ppg", "task"),
    ]
    np.testing.assert_array_equal(recordings[0].signal, np.float32([1, 2]))
    np.testing.assert_array_equal(recordings[2].signal, np.float32([9, np.nan]))


def test_a_recording_has_one_label(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    frame = _long_frame()
    frame.loc[0, "condition"] = "task"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="recording 't2' has 2 labels"):
        read_recordings(path, LONG)


def test_missing_column_and_unreadable_parquet(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    _long_frame().drop(columns="sensor").to_csv(path, index=False)
    with pytest.raises(DataError, match="column named in params not found") as caught:
        read_recordings(path, LONG)
    assert caught.value.segment == "sensor"
    broken = tmp_path / "b.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable parquet file"):
        read_recordings(broken, ReadSpec("parquet", fs=1.0, layout="wide"))
