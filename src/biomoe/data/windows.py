"""The windows table: one row per (subject, segment, modality), and its parquet file.

Columns, in this order: ``window_id`` (``subject/segment/modality``), ``sample_id``
(``subject/segment``), ``subject``, ``split``, ``segment`` (the column name as in the raw file),
``label`` ("No"/"Low"/"High", "Rest" when rest segments are kept, None when unlabelled),
``modality``, ``fs`` (int64), ``n_samples`` (int64), ``signal`` (float32 array; list<float32> in
parquet) and ``source_file`` (POSIX path of the raw CSV relative to the raw data folder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from biomoe.errors import DataError
from biomoe.io import atomic_path

WINDOWS_SCHEMA = pa.schema(
    [
        pa.field("window_id", pa.string(), nullable=False),
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("segment", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=True),
        pa.field("modality", pa.string(), nullable=False),
        pa.field("fs", pa.int64(), nullable=False),
        pa.field("n_samples", pa.int64(), nullable=False),
        pa.field("signal", pa.list_(pa.float32()), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
    ]
)
WINDOW_COLUMNS: tuple[str, ...] = tuple(WINDOWS_SCHEMA.names)
_INT_COLUMNS = ("fs", "n_samples")
ROW_GROUP_SIZE = 256
"""Rows per parquet row group: the image stage reads the table a row group at a time."""


def empty_windows() -> pd.DataFrame:
    """A windows table with no rows and the right columns and dtypes."""
    return windows_frame([])


def windows_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Build the windows table from row dicts (keys = :data:`WINDOW_COLUMNS`)."""
    return _normalised(pd.DataFrame(rows, columns=list(WINDOW_COLUMNS)))


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    for column in _INT_COLUMNS:
        frame[column] = frame[column].astype(np.int64)
    frame["label"] = frame["label"].astype(object).where(frame["label"].notna(), None)
    return frame


def write_windows(df: pd.DataFrame, path: Path, row_group_size: int = ROW_GROUP_SIZE) -> None:
    """Write the windows table as parquet, atomically and byte-for-byte reproducibly.

    The file has exactly :data:`WINDOWS_SCHEMA` (no pandas index or pandas metadata), in row
    groups of ``row_group_size`` rows.
    """
    path = Path(path)
    missing = [c for c in WINDOW_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"windows table lacks columns {missing}", file=path)
    arrays = [
        signal_array(df["signal"])
        if name == "signal"
        else pa.array(df[name].tolist(), type=WINDOWS_SCHEMA.field(name).type)
        for name in WINDOW_COLUMNS
    ]
    table = pa.Table.from_arrays(arrays, schema=WINDOWS_SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=row_group_size)


def read_windows(path: Path) -> pd.DataFrame:
    """Read a windows table; ``signal`` cells come back as float32 numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            "windows table not found", file=path, hint="run the ingest stage (biomoe ingest) first"
        )
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"not a readable parquet file: {exc}", file=path, hint="re-run the ingest stage"
        ) from exc
    if table.schema.names != list(WINDOW_COLUMNS):
        raise DataError(
            f"columns {table.schema.names} differ from the windows table's {list(WINDOW_COLUMNS)}",
            file=path,
            hint="re-run the ingest stage",
        )
    try:
        table = table.cast(WINDOWS_SCHEMA)
    except (pa.ArrowException, ValueError) as exc:
        raise DataError(f"column types differ from the windows table: {exc}", file=path) from exc
    return _normalised(table.to_pandas())


def signal_array(signals: pd.Series) -> pa.ListArray:
    """float32 samples as a ``list<float32>`` array (``DataError`` beyond 2**31 samples)."""
    arrays = [np.asarray(s, dtype=np.float32) for s in signals]
    lengths = np.array([a.size for a in arrays], dtype=np.int64)
    if lengths.sum() > np.iinfo(np.int32).max:
        raise DataError("windows table holds more than 2**31 samples; split the dataset")
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    values = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.float32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.float32()))
