"""CSV and Parquet tables of samples, at the rate given in params.

``wide``: one numeric column per channel (every column but the recording and label columns,
or those named in ``channels``). ``long``: a ``channel_column`` naming each row's channel and
a ``value_column`` holding its sample. In both, ``recording_column`` (optional) splits the rows
into recordings, kept in order of first appearance, and ``label_column`` (optional) gives each
recording one class label. Rows keep their file order within a recording.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from biomoe.data.readers.base import ReadSpec, Recording, as_signal, given_fs
from biomoe.errors import DataError

SUFFIXES = (".csv", ".parquet")


def read_table(path: Path, spec: ReadSpec) -> list[Recording]:
    fs = given_fs(spec, path)
    frame = _load(path)
    wanted = [c for c in (spec.recording_column, spec.label_column) if c]
    if spec.layout == "long":
        wanted += [spec.channel_column or "", spec.value_column or ""]
    for column in wanted:
        if column not in frame.columns:
            raise DataError(
                "column named in params not found",
                file=path,
                segment=column,
                hint=f"columns: {list(frame.columns)[:20]}",
            )
    recordings: list[Recording] = []
    groups = _groups(frame, spec.recording_column)
    for record, rows in groups:
        label = _label(rows, spec.label_column, path, record)
        for channel, values in _channels(rows, spec, path):
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna()
            if bad.any():
                raise DataError(
                    f"not a number: {str(values[bad].iloc[0])[:40]!r}",
                    file=path,
                    segment=channel,
                    hint=f"row {int(bad.to_numpy().nonzero()[0][0])} of recording {record!r}",
                )
            recordings.append(
                Recording(
                    as_signal(numbers.to_numpy(dtype=float)), fs, channel, str(path), record, label
                )
            )
    if not recordings:
        raise DataError("the table holds no samples", file=path)
    return recordings


def _load(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            return pq.read_table(path).to_pandas()
        return pd.read_csv(path, low_memory=False)
    except (pa.ArrowException, OSError, ValueError, pd.errors.ParserError) as exc:
        kind = "parquet" if path.suffix.lower() == ".parquet" else "CSV"
        raise DataError(f"not a readable {kind} file: {str(exc)[:200]}", file=path) from exc


def _groups(frame: pd.DataFrame, column: str | None) -> list[tuple[str, pd.DataFrame]]:
    if column is None:
        return [("all", frame)]
    keys = frame[column].astype(str)
    return [(key, frame[keys == key]) for key in dict.fromkeys(keys)]


def _label(rows: pd.DataFrame, column: str | None, path: Path, record: str) -> str | None:
    if column is None:
        return None
    values = rows[column].dropna().astype(str).unique()
    if len(values) > 1:
        raise DataError(
            f"recording {record!r} has {len(values)} labels {sorted(values)[:5]}; one is allowed",
            file=path,
            segment=column,
        )
    return str(values[0]) if len(values) else None


def _channels(rows: pd.DataFrame, spec: ReadSpec, path: Path) -> list[tuple[str, pd.Series]]:
    if spec.layout == "long":
        names = rows[spec.channel_column].astype(str)
        return [(name, rows.loc[names == name, spec.value_column]) for name in dict.fromkeys(names)]
    reserved = {spec.recording_column, spec.label_column}
    columns = [c for c in rows.columns if c not in reserved]
    if spec.channels is not None:
        columns = [c for c in columns if str(c) in spec.channels]
    return [(str(column), rows[column]) for column in columns]
