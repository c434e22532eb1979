"""Where the image stage reads windows from: an in-memory table or a windows parquet file.

A source gives a *catalog* (one small row per window: its position, ``window_id``, group, rate,
content digest and the columns the gallery picks by) and hands out the full rows of any
positions on demand. ``ParquetWindows`` reads the file in row groups, so neither the catalog
nor a shard's rows ever hold the whole table: memory stays flat as the dataset grows. Both are
picklable, so shard jobs can run on other processes or machines.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from biomoe.errors import DataError

REQUIRED_COLUMNS = ("window_id", "fs", "signal")
GROUP_COLUMN = "subject"
"""Shards never mix groups, so new recordings of one subject leave the other shards as they were."""
LABEL_COLUMNS = ("modality", "label", "source_file")
ROW_COLUMNS = ("window_id", "fs", "signal", "source_file")
CATALOG_COLUMNS = ("position", "window_id", "group", "fs", "digest", *LABEL_COLUMNS)


class WindowSource(Protocol):
    def catalog(self) -> pd.DataFrame:
        """``CATALOG_COLUMNS``, one row per window, in source order (``position`` 0, 1, ...)."""
        ...

    def take(self, positions: Sequence[int]) -> pd.DataFrame:
        """``ROW_COLUMNS`` of the windows at ``positions``, in that order."""
        ...


def window_digest(window_id: str, fs: int, signal: object) -> str:
    """sha256 of a window's id, rate and samples (with their dtype): what its images depend on."""
    values = np.ascontiguousarray(np.asarray(signal))
    digest = hashlib.sha256(f"{window_id}\0{int(fs)}\0{values.dtype.str}\0".encode())
    digest.update(values.tobytes())
    return digest.hexdigest()


def _catalog_part(frame: pd.DataFrame, start: int) -> pd.DataFrame:
    ids = frame["window_id"].astype(str)
    fs = frame["fs"].to_numpy(dtype=np.int64)
    part = pd.DataFrame(
        {
            "position": np.arange(start, start + len(frame), dtype=np.int64),
            "window_id": ids.to_numpy(),
            "group": frame[GROUP_COLUMN].astype(str).to_numpy()
            if GROUP_COLUMN in frame
            else np.full(len(frame), "", dtype=object),
            "fs": fs,
            "digest": [
                window_digest(w, f, s) for w, f, s in zip(ids, fs, frame["signal"], strict=True)
            ],
        }
    )
    for column in LABEL_COLUMNS:
        part[column] = frame[column].to_numpy() if column in frame else None
    return part


def _check_catalog(catalog: pd.DataFrame, file: object = None) -> pd.DataFrame:
    duplicated = catalog["window_id"].duplicated(keep=False)
    if duplicated.any():
        first = catalog[duplicated].iloc[0]
        raise DataError(
            "window_id must be unique",
            file=first["source_file"] or file,
            segment="window_id",
            hint=f"{int(duplicated.sum())} rows share ids such as {first['window_id']!r}",
        )
    return catalog


def _missing_columns(columns: Sequence[str], file: object = None) -> None:
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            raise DataError(
                "the windows table lacks a required column",
                file=file,
                segment=column,
                hint=f"the image stage needs {list(REQUIRED_COLUMNS)}",
            )


@dataclass(frozen=True)
class FrameWindows:
    """A windows table already in memory (any row order; ``signal`` cells are arrays)."""

    frame: pd.DataFrame

    def __post_init__(self) -> None:
        _missing_columns(list(self.frame.columns))

    def catalog(self) -> pd.DataFrame:
        return _check_catalog(_catalog_part(self.frame.reset_index(drop=True), 0))

    def take(self, positions: Sequence[int]) -> pd.DataFrame:
        rows = self.frame.iloc[list(positions)]
        return pd.DataFrame(
            {c: rows[c].to_numpy() if c in rows else None for c in ROW_COLUMNS}
        ).assign(window_id=lambda f: f["window_id"].astype(str))


@dataclass(frozen=True)
class ParquetWindows:
    """A windows parquet file (``biomoe.data.windows``), read a row group at a time."""

    path: Path

    def _file(self) -> pq.ParquetFile:
        if not Path(self.path).is_file():
            raise DataError(
                "windows table not found", file=self.path, hint="run the ingest stage first"
            )
        try:
            return pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"not a readable parquet file: {exc}", file=self.path) from exc

    def _batches(self, columns: list[str]) -> Iterator[pd.DataFrame]:
        file = self._file()
        for group in range(file.num_row_groups):
            yield _to_frame(file.read_row_group(group, columns=columns))

    def catalog(self) -> pd.DataFrame:
        names = self._file().schema_arrow.names
        _missing_columns(names, self.path)
        wanted = [
            c for c in ("window_id", GROUP_COLUMN, "fs", "signal", *LABEL_COLUMNS) if c in names
        ]
        parts, start = [], 0
        for frame in self._batches(wanted):
            parts.append(_catalog_part(frame, start))
            start += len(frame)
        if not parts:
            return pd.DataFrame(columns=list(CATALOG_COLUMNS))
        return _check_catalog(pd.concat(parts, ignore_index=True), self.path)

    def take(self, positions: Sequence[int]) -> pd.DataFrame:
        file = self._file()
        sizes = [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)]
        starts = np.concatenate(([0], np.cumsum(sizes)))
        wanted = np.asarray(positions, dtype=np.int64)
        group_of = np.searchsorted(starts, wanted, side="right") - 1
        groups = np.unique(group_of)
        columns = [c for c in ROW_COLUMNS if c in file.schema_arrow.names]
        table = file.read_row_groups([int(g) for g in groups], columns=columns)
        read_before = np.concatenate(([0], np.cumsum([sizes[g] for g in groups])))
        first_row = dict(
            zip(groups.tolist(), (read_before[:-1] - starts[groups]).tolist(), strict=True)
        )
        local = [first_row[g] + p for p, g in zip(wanted.tolist(), group_of.tolist(), strict=True)]
        rows = _to_frame(table.take(pa.array(local, pa.int64())))
        if "source_file" not in rows:
            rows["source_file"] = None
        return rows[list(ROW_COLUMNS)]


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """A table with ``signal`` cells as float32 numpy arrays."""
    frame = table.drop_columns([c for c in ("signal",) if c in table.column_names]).to_pandas()
    if "signal" in table.column_names:
        column = table.column("signal").combine_chunks()
        values = column.values.to_numpy(zero_copy_only=False)
        offsets = column.offsets.to_numpy()
        frame["signal"] = [values[a:b] for a, b in itertools.pairwise(offsets)]
    return frame


def as_source(windows: pd.DataFrame | Path | str | WindowSource) -> WindowSource:
    """A ``WindowSource`` for a table, a parquet path, or a source as it is."""
    if isinstance(windows, pd.DataFrame):
        return FrameWindows(windows)
    if isinstance(windows, str | Path):
        return ParquetWindows(Path(windows))
    return windows
