"""Weka ``.arff`` files as the UCR/UEA archives write them.

Univariate: one ``numeric`` attribute per time step, then the class. Multivariate: one
``relational`` attribute whose value is a quoted string holding one row per dimension
(rows separated by ``\\n``), then the class. The class is the last attribute when it is
nominal (``{a,b,c}``) or ``string``; otherwise the file has no labels. ``?`` is a missing value.
Sparse rows (``{...}``) and ``date`` attributes are not supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from biomoe.data.readers.base import ReadSpec, Recording, as_signal, given_fs, parse_floats
from biomoe.errors import DataError

SUFFIXES = (".arff",)
_NUMERIC = ("numeric", "real", "integer")


@dataclass(frozen=True)
class _Attribute:
    name: str
    kind: str
    values: tuple[str, ...] = ()


def read_arff(path: Path, spec: ReadSpec) -> list[Recording]:
    fs = given_fs(spec, path)
    attributes, rows = _parse(path)
    has_label = attributes[-1].kind in ("nominal", "string")
    series = attributes[:-1] if has_label else attributes
    relational = [a for a in series if a.kind == "relational"]
    if relational and len(series) != 1:
        raise DataError(
            "a multivariate .arff needs exactly one relational attribute before the class",
            file=path,
            segment=relational[0].name,
        )
    if not relational and any(a.kind not in _NUMERIC for a in series):
        bad = next(a for a in series if a.kind not in _NUMERIC)
        raise DataError(
            f"attribute type {bad.kind!r} is not a time step", file=path, segment=bad.name
        )
    recordings: list[Recording] = []
    for case, (number, cells) in enumerate(rows):
        where = f"line {number}"
        if len(cells) != len(attributes):
            raise DataError(
                f"{len(cells)} values where the header declares {len(attributes)} attributes",
                file=path,
                segment=where,
            )
        label = cells[-1] if has_label and cells[-1] != "?" else None
        if (
            label is not None
            and attributes[-1].kind == "nominal"
            and (label not in attributes[-1].values)
        ):
            raise DataError(
                f"class {label!r} is not among {list(attributes[-1].values)}",
                file=path,
                segment=where,
            )
        dims = re.split(r"\\n|\n", cells[0]) if relational else [",".join(cells[: len(series)])]
        for dim, values in enumerate(dims):
            signal = parse_floats(values.split(","), path, f"{where}, dimension {dim}")
            recordings.append(
                Recording(as_signal(signal), fs, f"dim_{dim}", str(path), f"case{case:05d}", label)
            )
    return recordings


def _parse(path: Path) -> tuple[list[_Attribute], list[tuple[int, list[str]]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"not a text file: {exc.reason}", file=path) from exc
    attributes: list[_Attribute] = []
    rows: list[tuple[int, list[str]]] = []
    nested: str | None = None
    in_data = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        where = f"line {number}"
        if in_data:
            if line.startswith("{"):
                raise DataError("sparse .arff rows are not supported", file=path, segment=where)
            rows.append((number, _cells(line, path, where)))
            continue
        keyword = line.split(None, 1)[0].lower()
        if keyword == "@data":
            in_data = True
        elif keyword == "@end":
            nested = None
        elif keyword == "@attribute":
            attribute = _attribute(line, path, where)
            if nested is None:
                attributes.append(attribute)
                if attribute.kind == "relational":
                    nested = attribute.name
        elif keyword != "@relation":
            raise DataError(f"unknown header line {line[:40]!r}", file=path, segment=where)
    if not in_data or not attributes:
        raise DataError("no @attribute/@data sections: not an .arff file", file=path)
    if not rows:
        raise DataError("the @data section holds no row", file=path)
    return attributes, rows


def _attribute(line: str, path: Path, where: str) -> _Attribute:
    match = re.match(r"@attribute\s+('[^']*'|\"[^\"]*\"|\S+)\s+(.+)$", line, re.IGNORECASE)
    if match is None:
        raise DataError("malformed @attribute line", file=path, segment=where)
    name, kind = match.group(1).strip("'\""), match.group(2).strip()
    if kind.startswith("{"):
        values = tuple(v.strip().strip("'\"") for v in kind.strip("{}").split(","))
        return _Attribute(name, "nominal", values)
    kind = kind.split()[0].lower()
    if kind not in (*_NUMERIC, "string", "relational"):
        raise DataError(f"attribute type {kind!r} is not supported", file=path, segment=name)
    return _Attribute(name, kind)


def _cells(line: str, path: Path, where: str) -> list[str]:
    """Split a data row on commas outside quotes; quotes are removed, ``\\'`` unescaped."""
    cells, current, quote, i = [], [], "", 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\" and i + 1 < len(line) and line[i + 1] in "'\"\\":
                current.append(line[i + 1])
                i += 1
            elif char == quote:
                quote = ""
            else:
                current.append(char)
        elif char in "'\"":
            quote = char
        elif char == ",":
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    if quote:
        raise DataError("unterminated quoted value", file=path, segment=where)
    cells.append("".join(current).strip())
    return cells
