"""UCR archive text files (``.txt``, ``.tsv``): one series per line, the class label first,
then the values, separated by whitespace, tabs or commas. ``NaN`` pads unequal lengths."""

from __future__ import annotations

import re
from pathlib import Path

from biomoe.data.readers.base import ReadSpec, Recording, as_signal, given_fs, parse_floats
from biomoe.errors import DataError

SUFFIXES = (".txt", ".tsv")
_SEPARATOR = re.compile(r"[,\s]+")


def read_txt(path: Path, spec: ReadSpec) -> list[Recording]:
    fs = given_fs(spec, path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"not a text file: {exc.reason}", file=path) from exc
    recordings: list[Recording] = []
    for number, line in enumerate(lines, start=1):
        tokens = _SEPARATOR.split(line.strip())
        if tokens == [""]:
            continue
        where = f"line {number}"
        if len(tokens) < 2:
            raise DataError(
                "a line needs a class label and at least one value", file=path, segment=where
            )
        signal = parse_floats(tokens[1:], path, where)
        case = f"case{len(recordings):05d}"
        recordings.append(
            Recording(as_signal(signal), fs, "dim_0", str(path), case, _label(tokens[0]))
        )
    if not recordings:
        raise DataError("no series in the file", file=path)
    return recordings


def _label(token: str) -> str:
    """``1.0000000e+00`` and ``1`` name the same class: integral numbers print as integers."""
    try:
        value = float(token)
    except ValueError:
        return token
    return str(int(value)) if value.is_integer() else token
