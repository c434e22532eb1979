"""PhysioNet WFDB records: a ``.hea`` header and its ``.dat`` signal file(s).

Supported: single-segment records with one sample per frame per signal, in storage formats 16,
61, 80, 160, 212, 24 and 32, byte offsets, and the header's gain, baseline and checksum
(a sample equal to the format's invalid-value marker becomes NaN). Each signal becomes one
:class:`Recording` in physical units, ``(digital - baseline) / gain``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biomoe.data.readers.base import ReadSpec, Recording, as_signal, checked_fs
from biomoe.errors import DataError

SUFFIXES = (".hea",)
_FORMAT = re.compile(r"^(\d+)(?:x(\d+))?(?::(-?\d+))?(?:\+(\d+))?$")
_GAIN = re.compile(r"^([-+0-9.eE]+)(?:\((-?\d+)\))?(?:/(\S+))?$")
_BYTES_PER_SAMPLE = {"16": 2.0, "61": 2.0, "80": 1.0, "160": 2.0, "212": 1.5, "24": 3.0, "32": 4.0}
_INVALID = {"16": -(2**15), "61": -(2**15), "80": -(2**7), "160": -(2**15), "212": -(2**11)}
_INVALID |= {"24": -(2**23), "32": -(2**31)}
DEFAULT_FS = 250.0
DEFAULT_GAIN = 200.0


@dataclass(frozen=True)
class _Signal:
    file: str
    fmt: str
    offset: int
    gain: float
    baseline: int
    checksum: int | None
    name: str


def read_wfdb(path: Path, spec: ReadSpec) -> list[Recording]:
    record, fs, n_samples, signals = _header(path)
    fs = checked_fs(fs, spec, path, "sampling frequency")
    digital: dict[int, np.ndarray] = {}
    files = list(dict.fromkeys(s.file for s in signals))
    for name in files:
        members = [i for i, s in enumerate(signals) if s.file == name]
        frames = _read_dat(path, signals, members, n_samples)
        n_samples = frames.shape[0]
        for column, i in enumerate(members):
            digital[i] = frames[:, column]
    recordings = []
    for i, signal in enumerate(signals):
        values = digital[i]
        if signal.checksum is not None:
            total = int(values.astype(np.int64).sum()) & 0xFFFF
            if total != signal.checksum & 0xFFFF:
                raise DataError(
                    "checksum of the samples differs from the header's",
                    file=path.parent / signal.file,
                    segment=signal.name,
                    hint="the .dat file is corrupt or belongs to another header",
                )
        physical = (values - signal.baseline) / signal.gain
        physical[values == _INVALID[signal.fmt]] = np.nan
        recordings.append(Recording(as_signal(physical), fs, signal.name, str(path), record))
    return recordings


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise DataError(f"a WFDB header must be ASCII text: {exc.reason}", file=path) from exc
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]


def _header(path: Path) -> tuple[str, float, int | None, list[_Signal]]:
    lines = _lines(path)
    if not lines:
        raise DataError("empty WFDB header", file=path)
    number, line = lines[0]
    tokens = line.split()
    where = f"line {number} (record line)"
    if len(tokens) < 2 or not tokens[1].isdigit():
        raise DataError(
            "the record line needs a name and a number of signals", file=path, segment=where
        )
    if "/" in tokens[0]:
        raise DataError("multi-segment WFDB records are not supported", file=path, segment=where)
    n_signals = int(tokens[1])
    fs = (
        _number(tokens[2].split("/")[0].split("(")[0], path, where)
        if len(tokens) > 2
        else DEFAULT_FS
    )
    n_samples = int(_number(tokens[3], path, where)) if len(tokens) > 3 else None
    if len(lines) - 1 < n_signals:
        raise DataError(
            f"the record line announces {n_signals} signals, the header describes {len(lines) - 1}",
            file=path,
            segment=where,
        )
    signals = [
        _signal(path, number, line, i) for i, (number, line) in enumerate(lines[1 : 1 + n_signals])
    ]
    if not signals:
        raise DataError("the record has no signal", file=path, segment=where)
    return tokens[0], fs, n_samples, signals


def _signal(path: Path, number: int, line: str, index: int) -> _Signal:
    tokens = line.split()
    where = f"line {number} (signal {index})"
    if len(tokens) < 2:
        raise DataError("a signal line needs a file name and a format", file=path, segment=where)
    match = _FORMAT.match(tokens[1])
    if match is None or match.group(1) not in _BYTES_PER_SAMPLE:
        raise DataError(
            f"storage format {tokens[1]!r} is not supported",
            file=path,
            segment=where,
            hint=f"supported formats: {sorted(_BYTES_PER_SAMPLE)}",
        )
    fmt, per_frame, skew, offset = match.groups()
    if (per_frame and int(per_frame) != 1) or (skew and int(skew) != 0):
        raise DataError(
            "multi-frequency or skewed signals are not supported", file=path, segment=where
        )
    gain, baseline = DEFAULT_GAIN, None
    if len(tokens) > 2:
        gain_match = _GAIN.match(tokens[2])
        if gain_match is None:
            raise DataError(f"malformed gain {tokens[2]!r}", file=path, segment=where)
        gain = float(gain_match.group(1)) or DEFAULT_GAIN
        baseline = int(gain_match.group(2)) if gain_match.group(2) is not None else None
    zero = int(_number(tokens[4], path, where)) if len(tokens) > 4 else 0
    checksum = int(_number(tokens[6], path, where)) if len(tokens) > 6 else None
    name = " ".join(tokens[8:]) or f"sig{index}"
    return _Signal(
        tokens[0],
        fmt,
        int(offset or 0),
        gain,
        zero if baseline is None else baseline,
        checksum,
        name,
    )


def _number(token: str, path: Path, where: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise DataError(f"not a number: {token!r}", file=path, segment=where) from None


def _read_dat(
    path: Path, signals: list[_Signal], members: list[int], n_samples: int | None
) -> np.ndarray:
    """``[n_samples, len(members)]`` int64 digital values of the signals stored in one file."""
    first = signals[members[0]]
    dat = path.parent / first.file
    if any(signals[i].fmt != first.fmt for i in members):
        raise DataError(
            "signals sharing a file must share a storage format", file=path, segment=first.file
        )
    if not dat.is_file():
        raise DataError("signal file named by the header not found", file=dat, segment=first.name)
    raw = dat.read_bytes()[first.offset :]
    width = len(members)
    available = int(len(raw) // _BYTES_PER_SAMPLE[first.fmt]) // width
    if n_samples is None:
        n_samples = available
    elif available < n_samples:
        raise DataError(
            f"truncated: holds {available} of the {n_samples} samples per signal "
            "that the header announces",
            file=dat,
            segment=first.name,
            hint="re-download or re-export the record",
        )
    count = n_samples * width
    values = _decode(raw, first.fmt, count)
    return values.reshape(n_samples, width)


def _decode(raw: bytes, fmt: str, count: int) -> np.ndarray:
    if fmt == "212":
        data = np.frombuffer(raw[: (count + 1) // 2 * 3], dtype=np.uint8).astype(np.int64)
        data = np.concatenate([data, np.zeros((-data.size) % 3, dtype=np.int64)]).reshape(-1, 3)
        first = data[:, 0] | ((data[:, 1] & 0x0F) << 8)
        second = data[:, 2] | ((data[:, 1] & 0xF0) << 4)
        values = np.stack([first, second], axis=1).ravel()[:count]
        return np.where(values >= 2048, values - 4096, values)
    if fmt == "24":
        data = np.frombuffer(raw[: count * 3], dtype=np.uint8).astype(np.int64).reshape(-1, 3)
        values = data[:, 0] | (data[:, 1] << 8) | (data[:, 2] << 16)
        return np.where(values >= 2**23, values - 2**24, values)
    dtype, shift = {
        "16": ("<i2", 0),
        "61": (">i2", 0),
        "80": ("u1", 128),
        "160": ("<u2", 32768),
        "32": ("<i4", 0),
    }[fmt]
    size = np.dtype(dtype).itemsize
    return np.frombuffer(raw[: count * size], dtype=dtype).astype(np.int64) - shift
