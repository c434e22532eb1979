"""What every format reader returns, and the options it is given.

A reader turns one file into :class:`Recording` objects: one per channel of each recording
the file holds (a UCR/UEA case, a WFDB record, an EDF file, a table's rows of one recording).
Missing samples are NaN. A file that breaks its format raises ``DataError`` naming the file,
the place (line, field, channel) and the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biomoe.errors import DataError


@dataclass(frozen=True)
class Recording:
    """One channel of one recording. ``record`` names the recording inside ``source_file``
    (a case number, a record name), so ``(source_file, record, channel)`` is unique."""

    signal: np.ndarray
    fs: float
    channel: str
    source_file: str
    record: str
    label: str | None = None


@dataclass(frozen=True)
class ReadSpec:
    """Reader options. ``fs``: the rate for formats that do not store one (checked against
    the header for WFDB/EDF). ``channels``: keep only these (all when None). The table options
    apply to CSV/Parquet only, ``segments``, ``frequencies`` and ``annotation`` to WFDB only
    (see ``biomoe.corpus.params.UserSourceParams``)."""

    format: str
    fs: float | None = None
    channels: tuple[str, ...] | None = None
    layout: str | None = None
    channel_column: str | None = None
    value_column: str | None = None
    recording_column: str | None = None
    label_column: str | None = None
    segments: str = "merge"
    frequencies: str = "native"
    annotation: str | None = None


def given_fs(spec: ReadSpec, path: Path) -> float:
    """The rate for a format that does not store one."""
    if spec.fs is None:
        raise DataError(
            f"{spec.format} files do not store a sampling rate",
            file=path,
            hint="set fs for this source in params.yaml",
        )
    return float(spec.fs)


def checked_fs(stored: float, spec: ReadSpec, path: Path, where: str) -> float:
    """The header's rate, which a rate given in params must agree with."""
    if not math.isfinite(stored) or stored <= 0:
        raise DataError(f"sampling rate must be positive, got {stored}", file=path, segment=where)
    if spec.fs is not None and not math.isclose(stored, spec.fs, rel_tol=1e-6):
        raise DataError(
            f"header says {stored:g} Hz but params say fs={spec.fs:g}",
            file=path,
            segment=where,
            hint="remove fs from the source or fix it",
        )
    return float(stored)


def as_signal(values: object) -> np.ndarray:
    """float32 1-D; infinities count as missing (NaN)."""
    signal = np.asarray(values, dtype=np.float32).ravel()
    return np.where(np.isfinite(signal), signal, np.float32(np.nan))


MISSING_TOKENS = frozenset({"?", "", "nan", "NaN", "NAN"})


def parse_floats(tokens: list[str], path: Path, where: str) -> np.ndarray:
    """Numbers as float64; the missing markers ``?``, ``NaN`` and empty cells become NaN."""
    cleaned = ["nan" if t.strip() in MISSING_TOKENS else t for t in tokens]
    try:
        return np.array(cleaned, dtype=np.float64)
    except ValueError:
        bad = next(t for t in cleaned if not _is_float(t))
        raise DataError(f"not a number: {bad.strip()[:40]!r}", file=path, segment=where) from None


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
