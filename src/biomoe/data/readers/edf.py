"""EDF, EDF+ (continuous) and BDF files, read from their fixed-width ASCII header.

The 256-byte header (version, patient, recording, start, header size, reserved, number of
data records, record duration, number of signals) is followed by 256 bytes per signal
(label, transducer, unit, physical min/max, digital min/max, prefilter, samples per record)
and the data records: per record, each signal's samples in turn, 16-bit (EDF) or 24-bit (BDF)
little-endian two's complement. Physical values are mapped linearly from the digital range.
``EDF Annotations`` signals are skipped; discontinuous EDF+D files are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biomoe.data.readers.base import ReadSpec, Recording, as_signal, checked_fs
from biomoe.errors import DataError

SUFFIXES = (".edf", ".bdf")
_FIELDS = (
    ("label", 16),
    ("transducer", 80),
    ("unit", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefilter", 80),
    ("samples_per_record", 8),
    ("reserved", 32),
)
_ANNOTATIONS = ("EDF Annotations", "BDF Annotations")


def read_edf(path: Path, spec: ReadSpec) -> list[Recording]:
    raw = path.read_bytes()
    if len(raw) < 256:
        raise DataError(f"{len(raw)} bytes, shorter than the 256-byte EDF header", file=path)
    version = raw[:8]
    if version == b"\xffBIOSEMI":
        width = 3
    elif version == b"0       ":
        width = 2
    else:
        raise DataError(
            f"version field {version!r} is neither EDF '0' nor BDF '\\xffBIOSEMI'",
            file=path,
            segment="header: version",
        )
    reserved = _text(raw, 192, 44)
    if reserved.startswith("EDF+D") or reserved.startswith("BDF+D"):
        raise DataError(
            "discontinuous EDF+D files are not supported", file=path, segment="header: reserved"
        )
    header_bytes = _integer(raw, 184, 8, path, "header: number of bytes")
    n_records = _integer(raw, 236, 8, path, "header: number of data records")
    duration = _float(raw, 244, 8, path, "header: duration of a data record")
    n_signals = _integer(raw, 252, 4, path, "header: number of signals")
    if n_signals < 1 or header_bytes != 256 * (n_signals + 1):
        raise DataError(
            f"header size {header_bytes} does not fit {n_signals} signals (256 * (ns + 1))",
            file=path,
            segment="header: number of bytes",
        )
    if len(raw) < header_bytes:
        raise DataError(f"truncated header: {len(raw)} of {header_bytes} bytes", file=path)
    fields = _signal_fields(raw, n_signals)
    labels = fields["label"]
    per_record = [
        _parse_int(v, path, f"signal {labels[i]!r}: samples per record")
        for i, v in enumerate(fields["samples_per_record"])
    ]
    for label, count in zip(labels, per_record, strict=True):
        if count < 1:
            raise DataError(
                f"samples per data record must be positive, got {count}",
                file=path,
                segment=f"signal {label!r}: samples per record",
            )
    record_bytes = width * sum(per_record)
    data = raw[header_bytes:]
    if n_records == -1:
        n_records = len(data) // record_bytes
    if n_records < 1 or len(data) < n_records * record_bytes:
        raise DataError(
            f"truncated: {len(data)} data bytes, the header announces {n_records} records "
            f"of {record_bytes} bytes",
            file=path,
            segment="data records",
        )
    if duration <= 0:
        raise DataError(
            f"record duration must be positive, got {duration}",
            file=path,
            segment="header: duration of a data record",
        )
    samples = _decode(data[: n_records * record_bytes], width).reshape(n_records, -1)
    recordings = []
    bounds = np.concatenate([[0], np.cumsum(per_record)])
    for i, label in enumerate(labels):
        if label in _ANNOTATIONS:
            continue
        where = f"signal {label!r}"
        digital = samples[:, bounds[i] : bounds[i + 1]].ravel()
        physical = _scale(digital, fields, i, path, where)
        fs = checked_fs(per_record[i] / duration, spec, path, where)
        recordings.append(Recording(as_signal(physical), fs, label, str(path), path.stem))
    if not recordings:
        raise DataError("the file holds only annotation signals", file=path)
    return recordings


def _signal_fields(raw: bytes, n_signals: int) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    offset = 256
    for name, size in _FIELDS:
        fields[name] = [_text(raw, offset + i * size, size) for i in range(n_signals)]
        offset += n_signals * size
    return fields


def _scale(
    digital: np.ndarray, fields: dict[str, list[str]], i: int, path: Path, where: str
) -> np.ndarray:
    values = {
        name: _parse_float(fields[name][i], path, f"{where}: {name.replace('_', ' ')}")
        for name in ("physical_min", "physical_max", "digital_min", "digital_max")
    }
    span = values["digital_max"] - values["digital_min"]
    if span <= 0:
        raise DataError("digital maximum must exceed digital minimum", file=path, segment=where)
    gain = (values["physical_max"] - values["physical_min"]) / span
    return (digital - values["digital_min"]) * gain + values["physical_min"]


def _decode(data: bytes, width: int) -> np.ndarray:
    if width == 2:
        return np.frombuffer(data, dtype="<i2").astype(np.float64)
    triples = np.frombuffer(data, dtype=np.uint8).astype(np.int64).reshape(-1, 3)
    values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
    return np.where(values >= 2**23, values - 2**24, values).astype(np.float64)


def _text(raw: bytes, start: int, size: int) -> str:
    return raw[start : start + size].decode("latin-1").strip()


def _integer(raw: bytes, start: int, size: int, path: Path, where: str) -> int:
    return _parse_int(_text(raw, start, size), path, where)


def _float(raw: bytes, start: int, size: int, path: Path, where: str) -> float:
    return _parse_float(_text(raw, start, size), path, where)


def _parse_int(text: str, path: Path, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"not an integer: {text!r}", file=path, segment=where) from None


def _parse_float(text: str, path: Path, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataError(f"not a number: {text!r}", file=path, segment=where) from None
