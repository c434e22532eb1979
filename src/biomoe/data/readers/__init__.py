"""Format readers for user datasets and package-bundled recordings, behind one interface:
``read_recordings(path, spec) -> list[Recording]`` for a file or a folder of files.

One module per format: :mod:`.ts` (UCR/UEA), :mod:`.arff`, :mod:`.txt` (UCR text), :mod:`.wfdb`,
:mod:`.edf` (EDF/EDF+/BDF), :mod:`.table` (CSV/Parquet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from biomoe.data.readers import arff, edf, table, ts, txt, wfdb
from biomoe.data.readers.base import ReadSpec, Recording
from biomoe.errors import DataError

__all__ = ["FORMATS", "ReadSpec", "Recording", "files_of", "read_file", "read_recordings"]


@dataclass(frozen=True)
class Format:
    """A format's file suffixes and reader; ``select``, when set, picks from a folder's files
    of the format the ones to read (the others being parts of those)."""

    suffixes: tuple[str, ...]
    read: Callable[[Path, ReadSpec], list[Recording]]
    select: Callable[[list[Path]], list[Path]] | None = None


FORMATS: dict[str, Format] = {
    "ts": Format(ts.SUFFIXES, ts.read_ts),
    "arff": Format(arff.SUFFIXES, arff.read_arff),
    "txt": Format(txt.SUFFIXES, txt.read_txt),
    "wfdb": Format(wfdb.SUFFIXES, wfdb.read_wfdb, wfdb.record_headers),
    "edf": Format(edf.SUFFIXES, edf.read_edf),
    "csv": Format((".csv",), table.read_table),
    "parquet": Format((".parquet",), table.read_table),
}


def read_recordings(path: str | Path, spec: ReadSpec) -> list[Recording]:
    """Every recording in ``path`` (one file, or every file of the format under a folder, in
    sorted order), with ``spec.channels`` kept. Raises ``DataError`` for a missing path, an
    unknown format, a file the format's reader refuses, or a channel that no file holds."""
    recordings = [rec for file in files_of(path, spec.format) for rec in read_file(file, spec)]
    if spec.channels is not None:
        present = {rec.channel for rec in recordings}
        missing = [c for c in spec.channels if c not in present]
        if missing:
            raise DataError(
                f"channels {missing} not found",
                file=path,
                segment="channels",
                hint=f"the files hold {sorted(present)[:20]}",
            )
        recordings = [rec for rec in recordings if rec.channel in spec.channels]
    return recordings


def files_of(path: str | Path, format: str) -> list[Path]:
    """The files a source reads: ``path`` itself, or the format's files under the folder."""
    path = Path(path)
    known = _format(format, path)
    if not path.exists():
        raise DataError("source path not found", file=path, hint="check the path in params.yaml")
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in known.suffixes
        )
        if not files:
            raise DataError(
                f"no {format} files ({', '.join(known.suffixes)}) under the folder", file=path
            )
        return known.select(files) if known.select is not None else files
    if path.suffix.lower() not in known.suffixes:
        raise DataError(
            f"file suffix {path.suffix!r} does not match format {format!r}",
            file=path,
            hint=f"{format} files end in {', '.join(known.suffixes)}",
        )
    return [path]


def read_file(path: Path, spec: ReadSpec) -> list[Recording]:
    """One file through its format's reader; an unreadable file becomes a ``DataError``."""
    reader = _format(spec.format, path)
    try:
        return reader.read(path, spec)
    except DataError:
        raise
    except (OSError, ValueError, IndexError, KeyError) as exc:
        raise DataError(f"unreadable {spec.format} file: {exc}", file=path) from exc


def _format(name: str, path: Path) -> Format:
    if name not in FORMATS:
        raise DataError(
            f"unknown format {name!r}", file=path, hint=f"known formats: {sorted(FORMATS)}"
        )
    return FORMATS[name]
