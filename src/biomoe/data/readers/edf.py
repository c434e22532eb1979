"""EDF, EDF+, BDF and BDF+ files, read through pyEDFlib (EDFlib, a C library).

Every ordinary signal gives its physical values at its own rate (samples per data record over
the record duration); annotation signals are skipped and annotations are not read. A
continuous file (EDF, BDF, EDF+C, BDF+C) gives one recording per signal, named by the file
stem.

Discontinuous EDF+D/BDF+D files are split into continuous pieces. pyEDFlib refuses to open
them ("The file is discontinuous and cannot be read") and does not report the time-keeping
annotation that holds each data record's start, so two things are done here: the onset is
read from the first TAL (``+<onset>\\x14\\x14``) of the first annotation signal of each data
record, at the offsets the header's signal table gives; the samples are read by pyEDFlib from
a temporary copy whose reserved field says EDF+C/BDF+C (the one byte that differs). A record
whose onset is the previous onset plus the record duration (within half a sample period of
the fastest signal) continues the piece; a later onset starts a new one, an earlier onset is
an error. Each piece is a recording ``<stem>@<onset>s`` (``rec@12.5s``: the piece starting
12.5 s after the file's start); an EDF+D file without gaps is one recording named by the stem.

pyEDFlib's open errors name a header field, not its value or signal; the header is looked up
to say which.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyedflib

from biomoe.data.readers.base import ReadSpec, Recording, as_signal, checked_fs
from biomoe.errors import DataError

SUFFIXES = (".edf", ".bdf")
_ANNOTATIONS = ("EDF Annotations", "BDF Annotations")
_SAMPLE_BYTES = {b"0       ": 2, b"\xffBIOSEMI": 3}
_ONSET = re.compile(rb"[+-]\d+(?:\.\d*)?")

_Field = tuple[str, int, int, str, str]
"""(pyEDFlib's name in its open error, offset, size, kind, rule); kind ``int``, ``float`` or
``text`` (printable ASCII)."""

_MAIN: dict[str, _Field] = {
    "number of signals": ("(number of signals)", 252, 4, "int", "a positive integer"),
    "reserved": ("(Reserved field)", 192, 44, "text", "empty, EDF+C/EDF+D or BDF+C/BDF+D"),
    "number of data records": ("(Number of Datarecords)", 236, 8, "int", "a positive integer"),
    "duration of a data record": ("(Duration)", 244, 8, "float", "a positive number"),
    "start date": ("startdate", 168, 8, "text", "a date dd.mm.yy"),
    "start time": ("starttime", 176, 8, "text", "a time hh.mm.ss"),
    "patient": ("(EDF+ Patientname)", 8, 80, "text", "EDF+ patient subfields"),
    "recording": ("(EDF+ Recordingfield)", 88, 80, "text", "EDF+ recording subfields"),
}
"""The fixed header fields pyEDFlib names."""

_SIGNAL: dict[str, _Field] = {
    "label": ("label is incorrect", 0, 16, "text", "printable ASCII"),
    "transducer": ("transducer is incorrect", 16, 80, "text", "printable ASCII"),
    "physical dimension": ("(Physical Dimension)", 96, 8, "text", "printable ASCII"),
    "physical minimum": ("(Physical Minimum)", 104, 8, "float", "a number, not the maximum"),
    "physical maximum": ("(Physical Maximum)", 112, 8, "float", "a number, not the minimum"),
    "digital minimum": ("(Digital Minimum)", 120, 8, "int", "an integer in the sample range"),
    "digital maximum": ("(Digital Maximum)", 128, 8, "int", "an integer above the minimum"),
    "prefilter": ("(Prefilter)", 136, 80, "text", "printable ASCII"),
    "samples per data record": ("(Sample in Datarecord)", 216, 8, "int", "a positive integer"),
}
"""The per-signal fields; a field's values start at byte 256 + ns * offset."""


def read_edf(path: Path, spec: ReadSpec) -> list[Recording]:
    header = _Header.read(path)
    if not header.discontinuous:
        return _read(path, path, header, spec)
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        with copy.open("r+b") as file:
            file.seek(196)  # the reserved field's "EDF+D" becomes "EDF+C"
            file.write(b"C")
        return _read(path, copy, header, spec)


def _read(path: Path, source: Path, header: _Header, spec: ReadSpec) -> list[Recording]:
    """The recordings of ``path``, whose samples pyEDFlib reads from ``source``."""
    try:
        edf = pyedflib.EdfReader(str(source), annotations_mode=pyedflib.DO_NOT_READ_ANNOTATIONS)
    except OSError as exc:
        raise _open_error(path, header, str(exc).removeprefix(f"{source}: ")) from None
    with edf:
        labels = edf.getSignalLabels()
        if not labels:
            raise DataError("the file holds only annotation signals", file=path, segment="signals")
        duration = edf.datarecord_duration
        if duration <= 0:
            raise DataError(
                f"record duration must be positive, got {duration:g} s",
                file=path,
                segment="header: duration of a data record",
            )
        n_records = edf.datarecords_in_file
        pieces = [(0, n_records, path.stem)]
        if header.discontinuous:
            tolerance = 0.5 / float(np.max(edf.getSampleFrequencies()))
            onsets = _onsets(path, header, n_records)
            pieces = _pieces(path, onsets, duration, tolerance)
        signals = []
        for i, label in enumerate(labels):
            if spec.channels is None or label in spec.channels:
                fs = checked_fs(edf.getSampleFrequency(i), spec, path, f"signal {label!r}")
                signals.append((label, fs, edf.samples_in_datarecord(i), edf.readSignal(i)))
    return [
        Recording(as_signal(values[first * count : stop * count]), fs, label, str(path), name)
        for first, stop, name in pieces
        for label, fs, count, values in signals
    ]


def _onsets(path: Path, header: _Header, n_records: int) -> np.ndarray:
    """Each data record's start (s after the file's start), from its time-keeping TAL."""
    labels = header.signal_values("label")
    counts = [int(v) for v in header.signal_values("samples per data record")]
    annotation = next((i for i, label in enumerate(labels) if label in _ANNOTATIONS), None)
    if annotation is None:
        raise DataError(
            "an EDF+D file needs an annotation signal for the data records' onsets",
            file=path,
            segment="signals",
        )
    start = header.sample_bytes * sum(counts[:annotation])
    size = header.sample_bytes * counts[annotation]
    record_bytes = header.sample_bytes * sum(counts)
    onsets = np.empty(n_records)
    with path.open("rb") as file:
        for r in range(n_records):
            file.seek(header.size + r * record_bytes + start)
            tal = file.read(size).split(b"\x14", 1)[0]
            if not _ONSET.fullmatch(tal):
                raise DataError(
                    f"the annotation signal starts with {tal[:20]!r}, not the time-keeping "
                    "TAL '+<onset>\\x14\\x14' that every EDF+D data record needs",
                    file=path,
                    segment=f"data record {r + 1} of {n_records}: {labels[annotation]}",
                )
            onsets[r] = float(tal)
    return onsets


def _pieces(
    path: Path, onsets: np.ndarray, duration: float, tolerance: float
) -> list[tuple[int, int, str]]:
    """(first record, stop record, record name) of each continuous piece."""
    gaps = onsets[1:] - (onsets[:-1] + duration)
    overlaps = np.flatnonzero(gaps < -tolerance)
    if overlaps.size:
        r = int(overlaps[0]) + 1
        raise DataError(
            f"onset {onsets[r]:g} s is before the end of the previous data record "
            f"({onsets[r - 1]:g} s + {duration:g} s): onsets must increase by at least the "
            "record duration",
            file=path,
            segment=f"data record {r + 1} of {len(onsets)}: time-keeping TAL",
        )
    starts = [0, *(np.flatnonzero(gaps > tolerance) + 1).tolist(), len(onsets)]
    if len(starts) == 2:
        return [(0, len(onsets), path.stem)]
    return [
        (first, stop, f"{path.stem}@{_seconds(onsets[first])}s") for first, stop in pairwise(starts)
    ]


def _seconds(onset: float) -> str:
    """``12.5`` for 12.5 s: up to 7 decimals (TALs count in 100 ns), no trailing zeros."""
    return f"{onset:.7f}".rstrip("0").rstrip(".")


class _Header:
    """The header's fixed-width fields, for what pyEDFlib does not report."""

    def __init__(self, raw: bytes, n_signals: int) -> None:
        self.raw = raw
        self.n_signals = n_signals
        self.size = 256 * (n_signals + 1)
        self.sample_bytes = _SAMPLE_BYTES[raw[:8]]
        self.discontinuous = self.text(192, 44)[:5] in ("EDF+D", "BDF+D")

    @classmethod
    def read(cls, path: Path) -> _Header:
        """The header of ``path``; the signal table only as far as the number of signals
        parses and the file holds it."""
        with path.open("rb") as file:
            raw = file.read(256)
            if len(raw) < 256:
                raise DataError(
                    f"{len(raw)} bytes, shorter than the 256-byte EDF header",
                    file=path,
                    segment="header",
                )
            if raw[:8] not in _SAMPLE_BYTES:
                raise DataError(
                    f"version field {raw[:8]!r} is neither EDF '0' nor BDF '\\xffBIOSEMI'",
                    file=path,
                    segment="header: version",
                )
            text = raw[252:256].decode("latin-1").strip()
            n_signals = int(text) if text.isdigit() else 0
            return cls(raw + file.read(256 * n_signals), n_signals)

    def text(self, offset: int, size: int) -> str:
        return self.raw[offset : offset + size].decode("latin-1").strip()

    def signal_values(self, name: str) -> list[str]:
        _, offset, size, _, _ = _SIGNAL[name]
        start = 256 + self.n_signals * offset
        return [self.text(start + i * size, size) for i in range(self.n_signals)]


def _open_error(path: Path, header: _Header, reason: str) -> DataError:
    """pyEDFlib's reason for refusing ``path``, with the field, its value and signal named."""
    hint = f"pyEDFlib: {reason}"
    if "(Filesize)" in reason:
        return _size_error(path, header, hint)
    if "(Bytes Header)" in reason:
        text, ns = header.text(184, 8), header.n_signals
        rule = (
            _problem(text, "int")
            or f"header size {text} does not fit {ns} signals (256 * (ns + 1))"
        )
        return DataError(rule, file=path, segment="header: number of bytes", hint=hint)
    for name, (key, offset, size, kind, rule) in _MAIN.items():
        if key in reason:
            text = header.text(offset, size)
            problem = _problem(text, kind) or f"{text!r} is not {rule}"
            return DataError(problem, file=path, segment=f"header: {name}", hint=hint)
    for name, (key, *_) in _SIGNAL.items():
        if key in reason:
            return _signal_error(path, header, name, hint)
    return DataError(reason, file=path, segment="header", hint="pyEDFlib refuses the file")


def _signal_error(path: Path, header: _Header, name: str, hint: str) -> DataError:
    """The first signal whose ``name`` field is wrong, or all the signals' values."""
    _, _, _, kind, rule = _SIGNAL[name]
    labels = header.signal_values("label")
    values = header.signal_values(name)
    for label, text in zip(labels, values, strict=True):
        problem = _problem(text, kind)
        if problem:
            return DataError(problem, file=path, segment=f"signal {label!r}: {name}", hint=hint)
    if name.endswith(("minimum", "maximum")):
        for label, problem in zip(labels, _range_problems(header, name.split()[0]), strict=True):
            if problem:
                segment = f"signal {label!r}: {name}"
                return DataError(problem, file=path, segment=segment, hint=hint)
    return DataError(
        f"{name} {values} of signals {labels}: each must be {rule}",
        file=path,
        segment=f"signal headers: {name}",
        hint=hint,
    )


def _range_problems(header: _Header, kind: str) -> list[str | None]:
    """Per signal, why its physical or digital minimum and maximum do not fit, or None."""
    lows = header.signal_values(f"{kind} minimum")
    highs = header.signal_values(f"{kind} maximum")
    parse = "int" if kind == "digital" else "float"
    limit = 2 ** (8 * header.sample_bytes - 1)
    problems: list[str | None] = []
    for low, high in zip(lows, highs, strict=True):
        if _problem(low, parse) or _problem(high, parse):
            problems.append(None)
        elif kind == "physical":
            same = float(low) == float(high)
            problems.append(f"physical minimum and maximum are both {low}" if same else None)
        else:
            fits = -limit <= int(low) < int(high) < limit
            problems.append(
                None
                if fits
                else f"digital range {low}..{high} is not increasing within {-limit}..{limit - 1}"
            )
    return problems


def _size_error(path: Path, header: _Header, hint: str) -> DataError:
    counts = header.signal_values("samples per data record")
    n_records = header.text(236, 8)
    size = path.stat().st_size
    if not all(c.isdigit() for c in counts) or not n_records.isdigit():
        return DataError(f"file size {size} bytes is wrong", file=path, segment="data records")
    record_bytes = header.sample_bytes * sum(int(c) for c in counts)
    expected = header.size + int(n_records) * record_bytes
    complete = max(size - header.size, 0) // max(record_bytes, 1)
    return DataError(
        f"{'truncated' if size < expected else 'wrong size'}: the header announces "
        f"{n_records} data records of {record_bytes} bytes after {header.size} header bytes "
        f"({expected} bytes), the file has {size} bytes ({complete} complete data records)",
        file=path,
        segment="data records",
        hint=hint,
    )


def _problem(text: str, kind: str) -> str | None:
    """Why ``text`` cannot be a value of this kind, or None."""
    if kind == "int" and not re.fullmatch(r"[+-]?\d+", text):
        return f"not an integer: {text!r}"
    if kind == "float":
        try:
            float(text)
        except ValueError:
            return f"not a number: {text!r}"
    if kind == "text" and not (text.isascii() and text.isprintable()):
        return f"not printable ASCII: {text!r}"
    return None
