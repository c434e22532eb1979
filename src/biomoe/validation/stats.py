"""Per-window statistics: the frame the expectation suite checks, one row per window.

The frame keeps every column of the windows table (so a failure maps back to its source file
and segment, and the schema rules see the table's own columns) and adds numbers computed from
the ``signal`` lists in one vectorised pass over all samples. A statistic whose inputs are
missing from the table is left out; the rules that need it are then reported as skipped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ROW = "row"
"""Position of the window in the table; GX reports failing rows by this column."""


def window_stats(table: pa.Table) -> pd.DataFrame:
    """Scalar columns of ``table`` plus the derived per-window and cross-window columns."""
    names = set(table.column_names)
    frame = table.to_pandas()
    frame.insert(0, ROW, np.arange(len(frame), dtype=np.int64))
    if "signal" in names:
        for name, values in _signal_stats(table.column("signal")).items():
            frame[name] = values
    if "signal_length" in frame and "fs" in frame:
        fs = pd.to_numeric(frame["fs"], errors="coerce").to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["duration_s"] = np.where(fs > 0, frame["signal_length"] / fs, np.nan)
    if {"subject", "split"} <= names:
        splits = frame.groupby("subject", dropna=False)["split"].agg(
            lambda s: ",".join(sorted(s.dropna().astype(str).unique()))
        )
        frame["subject_splits"] = frame["subject"].map(splits)
        frame["subject_split_count"] = frame.groupby("subject", dropna=False)["split"].transform(
            "nunique"
        )
    if {"sample_id", "modality"} <= names:
        everything = set(frame["modality"].dropna().astype(str))
        present = frame.groupby("sample_id", dropna=False)["modality"].agg(
            lambda s: ",".join(sorted(everything - set(s.dropna().astype(str))))
        )
        frame["sample_missing_modalities"] = frame["sample_id"].map(present)
        frame["sample_modalities_complete"] = frame["sample_missing_modalities"] == ""
    return frame


def _signal_stats(column: pa.ChunkedArray) -> dict[str, np.ndarray]:
    """Length, NaN fraction and min/max/std of the valid (non-NaN) samples of each window.

    A window without valid samples gets NaN statistics (GX then skips it in the value rules;
    its NaN fraction or duration is what fails).
    """
    array = column.combine_chunks()
    n = len(array)
    kind = array.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return {"signal_dtype": np.full(n, str(kind), dtype=object)}
    value_type = kind.value_type
    dtype = np.dtype(value_type.to_pandas_dtype()).name
    stats: dict[str, np.ndarray] = {"signal_dtype": np.full(n, dtype, dtype=object)}
    if not (pa.types.is_floating(value_type) or pa.types.is_integer(value_type)):
        return stats

    lengths = pc.list_value_length(array).fill_null(0).to_numpy().astype(np.int64)
    values = array.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
    row_of = np.repeat(np.arange(n), lengths)
    valid = ~np.isnan(values)
    n_valid = np.bincount(row_of, weights=valid, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        nan_fraction = np.where(lengths > 0, 1.0 - n_valid / lengths, np.nan)
        mean = np.bincount(row_of, weights=np.where(valid, values, 0.0), minlength=n) / n_valid
        deviation = np.where(valid, values - mean[row_of], 0.0)
        std = np.sqrt(np.bincount(row_of, weights=deviation**2, minlength=n) / n_valid)

    minimum = np.full(n, np.nan)
    maximum = np.full(n, np.nan)
    nonempty = lengths > 0
    if nonempty.any():
        starts = (np.cumsum(lengths) - lengths)[nonempty]
        minimum[nonempty] = np.minimum.reduceat(np.where(valid, values, np.inf), starts)
        maximum[nonempty] = np.maximum.reduceat(np.where(valid, values, -np.inf), starts)
    no_valid = n_valid == 0
    minimum[no_valid] = np.nan
    maximum[no_valid] = np.nan
    std[no_valid] = np.nan
    stats.update(
        signal_length=lengths,
        nan_fraction=nan_fraction,
        signal_min=minimum,
        signal_max=maximum,
        signal_std=std,
    )
    return stats
