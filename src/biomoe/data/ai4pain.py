"""Reader for the AI4PAIN 2025 raw layout, as released and as the demo generator writes it.

``raw_dir/{train,validation,test}/{Bvp,Eda,Resp,SpO2}/<subject>.csv`` holds one column per
segment; split and modality folders match in any letter case. Trailing empty cells (padding to
the longest column) are stripped, interior NaNs are kept for validation to count. Labels come
from the column names (see :mod:`biomoe.data.segments`); in the test split a name without a
label is allowed and gives label None. Segment names are kept as in the header, without
surrounding whitespace. Rows are ordered by split (train, validation, test),
subject (natural order: ``S2`` before ``S10``), segment (order in the file) and modality (order
of ``params.modalities``). ``source_file`` is the CSV's path relative to ``raw_dir``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from biomoe.data.params import SPLITS, IngestParams
from biomoe.data.segments import REST_LABEL, SEGMENT_NAME_RULE, segment_label
from biomoe.data.windows import (
    WINDOW_COLUMNS,
    empty_windows,
    read_windows,
    windows_frame,
    write_windows,
)
from biomoe.errors import DataError

__all__ = [
    "WINDOW_COLUMNS",
    "ingest",
    "read_ai4pain",
    "read_ai4pain_split",
    "read_windows",
    "write_windows",
]

LAYOUT_HINT = "expected raw_dir/{train,validation,test}/{Bvp,Eda,Resp,SpO2}/<subject>.csv"
UNLABELLED_SPLITS = frozenset({"test"})


def ingest(raw_dir: Path, out_path: Path, params: IngestParams) -> pd.DataFrame:
    """Read the raw layout and write the windows table to ``out_path`` (atomically)."""
    windows = read_ai4pain(raw_dir, params)
    write_windows(windows, out_path)
    return windows


def read_ai4pain(raw_dir: Path, params: IngestParams) -> pd.DataFrame:
    """The windows table of every subject, segment and modality under ``raw_dir``.

    REST segments are dropped unless ``params.include_rest``. Raises :class:`DataError` naming
    the file, column and rule for a missing folder or file, an unreadable CSV, a non-numeric
    cell, an unrecognised or duplicate segment name (train/validation) or segments that differ
    between a subject's modality files. A subject present in two splits is read as it is.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise DataError("raw data folder not found", file=raw_dir, hint=LAYOUT_HINT)
    rows: list[dict[str, object]] = []
    n_files = 0
    for split in SPLITS:
        split_dir = _child_dir(raw_dir, split, what="split folder")
        files = _subject_files(split_dir, params.modalities)
        n_files += sum(len(paths) for paths in files.values())
        for subject in sorted(files, key=_natural_key):
            rows.extend(_subject_rows(raw_dir, split, subject, files[subject], params))
    if n_files == 0:
        raise DataError("no subject CSV files in any split", file=raw_dir, hint=LAYOUT_HINT)
    return windows_frame(rows) if rows else empty_windows()


def read_ai4pain_split(
    split_dir: Path, split: str, params: IngestParams, raw_dir: Path | None = None
) -> pd.DataFrame:
    """The windows table of one split folder (``split_dir/{Bvp,Eda,Resp,SpO2}/<subject>.csv``),
    its rows labelled ``split`` (``test`` allows unlabelled segment names), with the rules of
    :func:`read_ai4pain`. ``source_file`` is relative to ``raw_dir`` (default: the parent)."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise DataError("split folder not found", file=split_dir, hint=LAYOUT_HINT)
    root = Path(raw_dir) if raw_dir is not None else split_dir.parent
    files = _subject_files(split_dir, params.modalities)
    if not files:
        raise DataError("no subject CSV files in the split folder", file=split_dir)
    rows = [
        row
        for subject in sorted(files, key=_natural_key)
        for row in _subject_rows(root, split, subject, files[subject], params)
    ]
    return windows_frame(rows) if rows else empty_windows()


def _child_dir(parent: Path, name: str, *, what: str) -> Path:
    """The sub-folder ``name`` of ``parent``, matched in any letter case."""
    matches = sorted(p for p in parent.iterdir() if p.is_dir() and p.name.lower() == name.lower())
    if not matches:
        raise DataError(f"missing {what} '{name}'", file=parent, hint=LAYOUT_HINT)
    if len(matches) > 1:
        names = [p.name for p in matches]
        raise DataError(f"{what} '{name}' is ambiguous: {names} differ only in case", file=parent)
    return matches[0]


def _subject_files(split_dir: Path, modalities: tuple[str, ...]) -> dict[str, dict[str, Path]]:
    """subject -> modality -> CSV; every subject must have a file for every modality."""
    folders = {m: _child_dir(split_dir, m, what="modality folder") for m in modalities}
    per_modality: dict[str, dict[str, Path]] = {}
    for modality, folder in folders.items():
        per_modality[modality] = {
            p.stem: p
            for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix.lower() == ".csv" and not p.name.startswith(".")
        }
    subjects = sorted(set().union(*(files.keys() for files in per_modality.values())))
    for subject in subjects:
        for modality, files in per_modality.items():
            if subject not in files:
                others = [m for m in modalities if subject in per_modality[m]]
                raise DataError(
                    f"subject {subject!r} has {others} files but no {modality} file",
                    file=folders[modality] / f"{subject}.csv",
                    hint="every subject needs one CSV per modality",
                )
    return {s: {m: per_modality[m][s] for m in modalities} for s in subjects}


def _subject_rows(
    raw_dir: Path,
    split: str,
    subject: str,
    files: dict[str, Path],
    params: IngestParams,
) -> list[dict[str, object]]:
    columns = {modality: _read_csv(path) for modality, path in files.items()}
    first_modality, *_ = files
    order = list(columns[first_modality])
    for modality, segments in columns.items():
        _check_names(files[modality], segments, split)
        if set(segments) != set(order):
            extra = sorted(set(segments) - set(order))
            missing = sorted(set(order) - set(segments))
            raise DataError(
                f"segments differ from {files[first_modality].name} of {first_modality}: "
                f"extra {_preview(extra)}, missing {_preview(missing)}",
                file=files[modality],
                segment=(extra or missing)[0],
                hint="a subject's modality files must hold the same segment columns",
            )
    rows: list[dict[str, object]] = []
    for segment in order:
        label = segment_label(segment)
        if label == REST_LABEL and not params.include_rest:
            continue
        for modality, path in files.items():
            signal = columns[modality][segment]
            rows.append(
                {
                    "window_id": f"{subject}/{segment}/{modality}",
                    "sample_id": f"{subject}/{segment}",
                    "subject": subject,
                    "split": split,
                    "segment": segment,
                    "label": label,
                    "modality": modality,
                    "fs": params.fs,
                    "n_samples": signal.size,
                    "signal": signal,
                    "source_file": path.relative_to(raw_dir).as_posix(),
                }
            )
    return rows


def _check_names(path: Path, segments: dict[str, np.ndarray], split: str) -> None:
    if split.lower() in UNLABELLED_SPLITS:
        return
    for position, name in enumerate(segments, start=1):
        if segment_label(name) is None:
            raise DataError(
                f"column {position} name {name!r} in the {split} split is not a segment name: "
                f"{SEGMENT_NAME_RULE}",
                file=path,
                segment=name,
                hint="only test columns may be unlabelled",
            )


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    """Segment name -> float32 samples without trailing padding, in file column order."""
    names = _header(path)
    try:
        frame = pd.read_csv(
            path,
            header=None,
            skiprows=1,
            names=list(range(len(names))),
            index_col=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame({i: pd.Series(dtype=np.float64) for i in range(len(names))})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"unreadable CSV: {str(exc).strip()}", file=path) from exc
    columns: dict[str, np.ndarray] = {}
    for index, name in enumerate(names):
        values = _numeric(frame[index], path, name)
        valid = np.flatnonzero(~np.isnan(values))
        end = valid[-1] + 1 if valid.size else 0
        columns[name] = values[:end].astype(np.float32)
    return columns


def _header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"unreadable CSV: {exc}", file=path) from exc
    if not header or not any(cell.strip() for cell in header):
        raise DataError(
            "unreadable CSV: no header row of segment names", file=path, hint=LAYOUT_HINT
        )
    names = [cell.strip() for cell in header]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(
                "duplicate segment name in the header",
                file=path,
                segment=name,
                hint="each segment column must have its own name",
            )
        seen.add(name)
    return names


def _numeric(column: pd.Series, path: Path, name: str) -> np.ndarray:
    """The column as float64; the first non-numeric cell is reported by its CSV line number."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=np.float64)
    values = np.full(len(column), np.nan)
    for row, cell in enumerate(column.to_numpy(dtype=object)):
        number = _as_number(cell)
        if number is None:
            raise DataError(
                f"non-numeric value {cell!r} at line {row + 2} (data row {row + 1})",
                file=path,
                segment=name,
                hint="cells must be numbers or empty",
            )
        values[row] = number
    return values


def _as_number(cell: object) -> float | None:
    """A cell's value (NaN for an empty cell), or None when it is not a number."""
    if cell is None or isinstance(cell, bool | np.bool_):
        return np.nan if cell is None else None
    if isinstance(cell, str) and not cell.strip():
        return np.nan
    try:
        return float(cell)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _preview(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"[{shown}{more}]"


def _natural_key(name: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)]
