"""The windows table's parquet file: schema, round trip, determinism, atomicity, bad files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from biomoe.config import Params
from biomoe.data.ai4pain import ingest, read_ai4pain
from biomoe.data.windows import (
    WINDOW_COLUMNS,
    WINDOWS_SCHEMA,
    empty_windows,
    read_windows,
    write_windows,
)
from biomoe.errors import DataError


@pytest.fixture(scope="module")
def table(demo_raw: Path, tiny_params: Params) -> pd.DataFrame:
    windows = read_ai4pain(demo_raw, tiny_params.ingest)
    windows.loc[windows.split == "test", "label"] = None
    return windows


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip(table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "windows.parquet"
    write_windows(table, path)
    back = read_windows(path)
    assert tuple(back.columns) == WINDOW_COLUMNS
    pd.testing.assert_frame_equal(back.drop(columns="signal"), table.drop(columns="signal"))
    assert all(
        s.dtype == np.float32 and np.array_equal(s, t, equal_nan=True)
        for s, t in zip(back["signal"], table["signal"], strict=True)
    )
    assert all(label is None for label in back[back.split == "test"]["label"])


def test_file_has_the_fixed_schema_and_no_pandas_metadata(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "windows.parquet"
    write_windows(table, path)
    schema = pq.read_schema(path)
    assert schema.remove_metadata().equals(WINDOWS_SCHEMA)
    assert b"pandas" not in (schema.metadata or {})


def test_writes_are_byte_identical(table: pd.DataFrame, tmp_path: Path) -> None:
    write_windows(table, tmp_path / "a.parquet")
    write_windows(table.copy(), tmp_path / "b.parquet")
    assert _sha(tmp_path / "a.parquet") == _sha(tmp_path / "b.parquet")


def test_interior_nans_survive(table: pd.DataFrame, tmp_path: Path) -> None:
    frame = table.head(2).copy()
    frame.at[frame.index[0], "signal"] = np.array([1.0, np.nan, 3.0], dtype=np.float32)
    write_windows(frame, tmp_path / "w.parquet")
    signal = read_windows(tmp_path / "w.parquet")["signal"].iloc[0]
    assert signal[0] == 1.0 and np.isnan(signal[1]) and signal[2] == 3.0


def test_empty_table_round_trips(tmp_path: Path) -> None:
    write_windows(empty_windows(), tmp_path / "empty.parquet")
    back = read_windows(tmp_path / "empty.parquet")
    assert len(back) == 0 and tuple(back.columns) == WINDOW_COLUMNS
    assert back["fs"].dtype == np.int64


def test_ingest_reads_and_writes(demo_raw: Path, tiny_params: Params, tmp_path: Path) -> None:
    out = tmp_path / "interim" / "windows.parquet"
    returned = ingest(demo_raw, out, tiny_params.ingest)
    assert len(read_windows(out)) == len(returned) > 0
    assert [p.name for p in out.parent.iterdir()] == ["windows.parquet"]


def test_a_failed_write_keeps_the_previous_file(table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "windows.parquet"
    write_windows(table, path)
    before = _sha(path)
    with pytest.raises(DataError, match="lacks columns"):
        write_windows(table.drop(columns="label"), path)
    broken = table.head(1).copy()
    broken["fs"] = ["not a number"]
    with pytest.raises((pa.ArrowException, TypeError, ValueError)):
        write_windows(broken, path)
    assert _sha(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["windows.parquet"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="windows table not found") as info:
        read_windows(tmp_path / "windows.parquet")
    assert info.value.file == str(tmp_path / "windows.parquet")


def test_corrupt_file(table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "windows.parquet"
    write_windows(table, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="not a readable parquet file"):
        read_windows(path)


def test_other_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"subject": ["S001"], "value": [1.0]}), path)
    with pytest.raises(DataError, match="differ from the windows table"):
        read_windows(path)
