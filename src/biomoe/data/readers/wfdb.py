"""PhysioNet WFDB records (a ``.hea`` header and its signal files), read through the ``wfdb``
package: this module adds the checks wfdb leaves out and maps its records to
:class:`Recording` objects. Each signal becomes one recording in physical units,
``(digital - baseline) / gain``, with wfdb's invalid-sample marker as NaN.

Supported: every storage format wfdb reads (8, 16, 24, 32, 61, 80, 160, 212, 310, 311 and the
FLAC formats 508, 516, 524), byte offsets and skew, multi-segment records (fixed or variable
layout, empty ``~`` segments), multi-frequency records and annotation files. Refused with a
``DataError``: a header wfdb cannot parse or whose signal lines disagree with its record line,
a missing signal file or segment header, a signal file shorter than its header says, and a
signal whose checksum differs from the header's (wfdb itself does not check).

Options (:class:`ReadSpec`):

- ``fs``: when given, must equal the header's sampling frequency (the frame rate).
- ``segments``: ``merge`` gives one recording per channel over the whole record, NaN where a
  segment lacks the channel or is empty (record name: the record's, e.g. ``rec``; channels:
  the layout header's, or the first segment's for a fixed layout); ``split`` gives one per
  channel per segment (record name ``rec/rec_0001``: the record, a slash and the segment's
  name). The layout and segment headers of a multi-segment record are not records of their
  own when a folder is read (:func:`record_headers`).
- ``frequencies``: ``native`` keeps each signal at its own rate, frame rate times samples per
  frame; ``frame`` puts every signal at the frame rate, the mean of its samples of each frame
  in physical units (as wfdb's ``Record.smooth_frames("physical")``; NaN when one is NaN).
- ``annotation``: the extension of an annotation file ``<record>.<ext>`` beside the header,
  read with ``wfdb.rdann``. Its rhythm notes (an ``aux_note`` starting with ``(``, as in
  ``(AFIB``) cut every recording into spans at each change of rhythm, each labelled with the
  rhythm without the ``(`` and named ``<record>@<frame>``, the frame (of the whole record) at
  which it starts; the span before the first note has label None. The annotation file must
  exist and hold at least one rhythm note.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

from biomoe.data.readers.base import ReadSpec, Recording, as_signal, checked_fs
from biomoe.errors import DataError

SUFFIXES = (".hea",)
_BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0}
_BYTES_PER_SAMPLE |= {"160": 2.0, "212": 1.5, "310": 4 / 3, "311": 4 / 3}
_FORMATS = (*_BYTES_PER_SAMPLE, "508", "516", "524")
_HINT = "re-download or re-export the record"


@dataclass(frozen=True)
class _Signal:
    """One signal of a record part: every sample in physical units, samples per frame."""

    name: str
    samples: np.ndarray
    spf: int


@dataclass(frozen=True)
class _Part:
    """What becomes recordings: a record, or one segment of it; ``start`` is its first frame
    in the whole record."""

    name: str
    start: int
    signals: list[_Signal]


def read_wfdb(path: Path, spec: ReadSpec) -> list[Recording]:
    """One recording per signal of the record ``path`` names (per segment with ``split``, per
    rhythm span with ``annotation``); see the module docstring."""
    if spec.segments not in ("merge", "split"):
        raise DataError(f"segments must be merge or split, got {spec.segments!r}", file=path)
    if spec.frequencies not in ("native", "frame"):
        raise DataError(f"frequencies must be native or frame, got {spec.frequencies!r}", file=path)
    header = _header(path)
    fs = checked_fs(float(header.fs), spec, path, "sampling frequency")
    rhythms = _rhythms(path, spec.annotation, fs) if spec.annotation else None
    if isinstance(header, wfdb.MultiRecord):
        parts = _multi(path, header, spec.segments)
    else:
        parts = [_Part(header.record_name, 0, _signals(path, header))]
    recordings = []
    for part in parts:
        for signal in part.signals:
            samples, per_frame = signal.samples, signal.spf
            if spec.frequencies == "frame" and per_frame > 1:
                samples, per_frame = samples.reshape(-1, per_frame).mean(axis=1), 1
            for suffix, values, label in _spans(samples, per_frame, part.start, rhythms):
                recordings.append(
                    Recording(
                        as_signal(values),
                        fs * per_frame,
                        signal.name,
                        str(path),
                        part.name + suffix,
                        label,
                    )
                )
    return recordings


def record_headers(files: list[Path]) -> list[Path]:
    """``files`` without the segment and layout headers of the multi-segment records among
    them, which are read as part of their master record. A header that cannot be parsed is
    kept, so that reading it reports why."""
    parts: set[Path] = set()
    for file in files:
        try:
            header = wfdb.rdheader(str(file.with_suffix("")))
        except Exception:  # wfdb raises bare Exception too; reading the file reports it
            continue
        if isinstance(header, wfdb.MultiRecord):
            parts |= {file.parent / f"{name}.hea" for name in header.seg_name if name != "~"}
    return [file for file in files if file not in parts]


def _header(path: Path) -> wfdb.Record | wfdb.MultiRecord:
    """The header of ``path`` as wfdb parses it, checked for what wfdb lets pass."""
    try:
        header = wfdb.rdheader(str(path.with_suffix("")))
    except FileNotFoundError:
        raise DataError("header file not found", file=path) from None
    except IndexError:
        raise DataError("empty WFDB header: no record line", file=path) from None
    except Exception as exc:  # wfdb's HeaderSyntaxError, and bare Exceptions
        raise DataError(f"WFDB header cannot be parsed: {exc}", file=path) from exc
    if isinstance(header, wfdb.MultiRecord):
        if header.sig_len is not None and sum(header.seg_len) != header.sig_len:
            raise DataError(
                f"the segments hold {sum(header.seg_len)} frames, the record line says "
                f"{header.sig_len}",
                file=path,
                segment="record line",
            )
        return header
    described = len(header.file_name or [])
    if described != header.n_sig:
        raise DataError(
            f"the record line announces {header.n_sig} signals, the header describes {described}",
            file=path,
            segment="record line",
        )
    if not described:
        raise DataError("the record has no signal", file=path, segment="record line")
    for fmt, name, file in zip(header.fmt, _names(header), header.file_name, strict=True):
        if file != "~" and fmt not in _FORMATS:  # "~": no file, as in a layout header
            raise DataError(
                f"storage format {fmt!r} is not supported",
                file=path,
                segment=name,
                hint=f"wfdb reads formats {', '.join(_FORMATS)}",
            )
    return header


def _names(record: wfdb.Record) -> list[str]:
    return [name or f"sig{i}" for i, name in enumerate(record.sig_name or [])]


def _signals(path: Path, header: wfdb.Record) -> list[_Signal]:
    """The signals of a single-segment record, after checking its signal files' presence,
    length and checksums."""
    _check_files(path, header)
    try:
        record = wfdb.rdrecord(str(path.with_suffix("")), physical=False, smooth_frames=False)
    except Exception as exc:  # wfdb raises bare Exception too
        raise DataError(f"wfdb cannot read the record: {exc}", file=path) from exc
    names = _names(header)
    checksums = header.checksum or [None] * header.n_sig
    for i, (file, expected) in enumerate(zip(header.file_name, checksums, strict=True)):
        total = int(np.sum(record.e_d_signal[i], dtype=np.int64)) & 0xFFFF
        if expected is not None and total != expected & 0xFFFF:
            raise DataError(
                "checksum of the samples differs from the header's",
                file=path.parent / file,
                segment=names[i],
                hint="the signal file is corrupt or belongs to another header",
            )
    record.dac(expanded=True, inplace=True)
    spf = [s or 1 for s in record.samps_per_frame]
    return [_Signal(n, s, f) for n, s, f in zip(names, record.e_p_signal, spf, strict=True)]


def _check_files(path: Path, header: wfdb.Record) -> None:
    """Each signal file exists and, for an uncompressed format, holds ``sig_len`` frames."""
    names = _names(header)
    spf = [s or 1 for s in header.samps_per_frame]
    for file in dict.fromkeys(header.file_name):
        members = [i for i, f in enumerate(header.file_name) if f == file]
        first = members[0]
        dat = path.parent / file
        if not dat.is_file():
            raise DataError(
                "signal file named by the header not found", file=dat, segment=names[first]
            )
        fmt = header.fmt[first]
        if header.sig_len is None or fmt not in _BYTES_PER_SAMPLE:
            continue
        stored = max(dat.stat().st_size - (header.byte_offset[first] or 0), 0)
        per_frame = sum(spf[i] for i in members)
        frames = int(stored / _BYTES_PER_SAMPLE[fmt] + 1e-9) // per_frame
        if frames < header.sig_len:
            unit = "samples per signal" if per_frame == len(members) else "frames"
            raise DataError(
                f"truncated: holds {frames} of the {header.sig_len} {unit} "
                "that the header announces",
                file=dat,
                segment=names[first],
                hint=_HINT,
            )


def _multi(path: Path, master: wfdb.MultiRecord, segments: str) -> list[_Part]:
    """The parts of a multi-segment record: its segments (``split``), or all of them joined
    on the channels of the layout header, or of the first segment for a fixed layout, NaN
    where a segment lacks a channel or is empty (``merge``)."""
    layout: list[_Signal] | None = None
    parts: list[_Part] = []
    end = 0
    for i, (name, length) in enumerate(zip(master.seg_name, master.seg_len, strict=True)):
        first, end = end, end + int(length)
        if name == "~":
            continue
        file = path.parent / f"{name}.hea"
        where = f"segment {i} ({name}) of record {master.record_name}"
        if not file.is_file():
            raise DataError(
                "segment header named by the master header not found",
                file=file,
                segment=where,
                hint=f"keep every segment of {path.name} beside it",
            )
        header = _header(file)
        if isinstance(header, wfdb.MultiRecord):
            raise DataError("a segment must not be multi-segment", file=file, segment=where)
        if not math.isclose(float(header.fs), float(master.fs)):
            raise DataError(
                f"segment at {header.fs:g} Hz in a record at {master.fs:g} Hz",
                file=file,
                segment=where,
            )
        if i == 0 and master.layout == "variable":
            spf = [s or 1 for s in header.samps_per_frame]
            layout = [_Signal(n, np.empty(0), s) for n, s in zip(_names(header), spf, strict=True)]
            continue
        if header.sig_len is not None and header.sig_len != length:
            raise DataError(
                f"segment holds {header.sig_len} frames, the master header says {length}",
                file=file,
                segment=where,
                hint=_HINT,
            )
        parts.append(_Part(f"{master.record_name}/{name}", first, _signals(file, header)))
    if segments == "split":
        return parts
    channels = layout if layout is not None else (parts[0].signals if parts else [])
    return [_Part(master.record_name, 0, _merged(path, channels, parts, end))]


def _merged(path: Path, channels: list[_Signal], parts: list[_Part], frames: int) -> list[_Signal]:
    """``channels`` over ``frames`` frames, each filled from the parts that hold it."""
    merged = {c.name: _Signal(c.name, np.full(frames * c.spf, np.nan), c.spf) for c in channels}
    for part in parts:
        for signal in part.signals:
            into = merged.get(signal.name)
            if into is None or into.spf != signal.spf:
                rule = (
                    "signal not in the record's layout"
                    if into is None
                    else f"{signal.spf} samples per frame, the layout says {into.spf}"
                )
                raise DataError(rule, file=path, segment=f"{part.name}: {signal.name}")
            into.samples[part.start * into.spf : part.start * into.spf + signal.samples.size] = (
                signal.samples
            )
    return list(merged.values())


def _rhythms(path: Path, extension: str, fs: float) -> list[tuple[int, str]]:
    """The rhythm notes of the annotation file: (frame, rhythm) in order of time."""
    file = path.parent / f"{path.stem}.{extension}"
    hint = f"add {file.name} or set annotation to null for this source"
    if not file.is_file():
        raise DataError("annotation file not found", file=file, hint=hint)
    try:
        annotation = wfdb.rdann(str(path.with_suffix("")), extension)
    except Exception as exc:  # wfdb raises bare Exception too
        raise DataError(f"wfdb cannot read the annotation file: {exc}", file=file) from exc
    scale = fs / float(annotation.fs) if annotation.fs else 1.0
    notes = [
        (round(int(sample) * scale), note.strip("\x00 ")[1:].strip())
        for sample, note in zip(annotation.sample, annotation.aux_note or [], strict=False)
        if note and note.strip("\x00 ").startswith("(")
    ]
    if not notes:
        raise DataError(
            "the annotation file has no rhythm note (an aux_note starting with '(')",
            file=file,
            hint=hint,
        )
    return sorted(notes, key=lambda note: note[0])


def _spans(
    samples: np.ndarray, per_frame: int, start: int, rhythms: list[tuple[int, str]] | None
) -> Iterator[tuple[str, np.ndarray, str | None]]:
    """Record-name suffix, samples and label of each rhythm span of a signal whose first frame
    is ``start``; the whole signal, unlabelled, without ``rhythms``."""
    if rhythms is None:
        yield "", samples, None
        return
    end = start + samples.size // per_frame
    cuts: list[tuple[int, str | None]] = [(start, None)]
    for frame, rhythm in rhythms:
        if frame <= start:
            cuts[0] = (start, rhythm)
        elif frame < end and rhythm != cuts[-1][1]:
            cuts.append((frame, rhythm))
    for (first, label), (last, _) in zip(cuts, [*cuts[1:], (end, None)], strict=True):
        if last > first:
            yield (
                f"@{first}",
                samples[(first - start) * per_frame : (last - start) * per_frame],
                label,
            )
