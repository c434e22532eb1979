"""Weka ``.arff`` files as the UCR/UEA archives write them, read by ``scipy.io.arff.loadarff``.

Univariate: one ``numeric`` attribute per time step, then the class. Multivariate: one
``relational`` attribute whose value is a quoted string holding one row per dimension
(rows separated by ``\\n``), then the class. The class is the last attribute when it is
nominal (``{a,b,c}``); otherwise the file has no labels. ``?`` is a missing value; an
unequal-length series is padded with ``?`` to the declared length, so it ends in NaN.
scipy reads every row with the quoting of the first one, and does not support ``string``
attributes (declare the class nominal) or sparse rows (``{...}``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
from numpy.lib.recfunctions import structured_to_unstructured
from scipy.io.arff import ArffError, loadarff

from biomoe.data.readers.base import ReadSpec, Recording, as_signal, given_fs
from biomoe.errors import DataError

SUFFIXES = (".arff",)
_DATA = re.compile(r"^@data", re.IGNORECASE)


class _Lines(io.StringIO):
    """The file for scipy, counting the lines it reads: when scipy fails on a data row, the
    last line read is that row (``done`` once every line was read). Keeps the header text and
    the line number of each row."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.number = 0
        self.current = ""
        self.header: list[str] = []
        self.rows: list[int] = []
        self.first_row = ""
        self.done = False

    def __next__(self) -> str:
        try:
            line = super().__next__()
        except StopIteration:
            self.done = True
            raise
        self.number += 1
        self.current = line
        if self.header and _DATA.match(self.header[-1]):
            if not line.startswith("%") and line.strip():
                self.rows.append(self.number)
                self.first_row = self.first_row or line
        else:
            self.header.append(line)
        return line


def read_arff(path: Path, spec: ReadSpec) -> list[Recording]:
    fs = given_fs(spec, path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not a text file: {exc.reason}", file=path) from exc
    lines = _Lines(text)
    try:
        data, meta = loadarff(lines)
    except StopIteration:
        raise DataError(
            "no @data section: not an .arff file",
            file=path,
            hint="the file ends in its header: it looks truncated" if text.strip() else None,
        ) from None
    except ArffError as exc:
        raise DataError(f"corrupt header: {exc}", file=path, segment="header") from exc
    except NotImplementedError as exc:
        raise DataError(
            "string attributes are not supported (scipy's ARFF reader lacks them)",
            file=path,
            segment="header",
            hint="declare the class nominal: @attribute class {a,b,...}",
        ) from exc
    except UnicodeEncodeError as exc:
        raise DataError(
            f"non-ASCII nominal value {exc.object[exc.start : exc.end]!r}: scipy's ARFF "
            "reader stores nominal values as ASCII bytes",
            file=path,
        ) from exc
    except (ValueError, IndexError) as exc:
        if lines.done:
            raise DataError(f"scipy's ARFF reader refused the file: {exc}", file=path) from exc
        raise _row_error(exc, path, lines) from exc
    if len(data) == 0:
        raise DataError("the @data section holds no row", file=path)
    return _recordings(data, meta.names(), meta.types(), fs, path, lines.rows)


def _recordings(
    data: np.ndarray,
    names: list[str],
    types: list[str],
    fs: float,
    path: Path,
    rows: list[int],
) -> list[Recording]:
    has_label = types[-1] == "nominal"
    series = names[:-1] if has_label else names
    kinds = dict(zip(names, types, strict=True))
    relational = [name for name in series if kinds[name] == "relational"]
    if relational and len(series) != 1:
        raise DataError(
            "a multivariate .arff needs exactly one relational attribute before the class",
            file=path,
            segment=relational[0],
        )
    if not series:
        raise DataError("no attribute before the class holds a time step", file=path)
    bad = next((name for name in series if kinds[name] not in ("numeric", "relational")), None)
    if bad is not None:
        raise DataError(f"attribute type {kinds[bad]!r} is not a time step", file=path, segment=bad)
    labels = [_label(value) for value in data[names[-1]]] if has_label else [None] * len(data)
    if not relational:
        steps = structured_to_unstructured(data[series], dtype=np.float64)
        return [
            Recording(as_signal(row), fs, "dim_0", str(path), f"case{case:05d}", labels[case])
            for case, row in enumerate(steps)
        ]
    cases = data[relational[0]]
    if any(cases[0].dtype[field].kind != "f" for field in cases[0].dtype.names):
        raise DataError(
            "the relational attribute's own attributes must all be numeric",
            file=path,
            segment=relational[0],
        )
    recordings: list[Recording] = []
    for case, value in enumerate(cases):
        dims = structured_to_unstructured(value, dtype=np.float64)
        if len(dims) != len(cases[0]):
            raise DataError(
                f"{len(dims)} dimensions where the first case has {len(cases[0])}",
                file=path,
                segment=f"line {rows[case]}",
            )
        recordings.extend(
            Recording(as_signal(dim), fs, f"dim_{d}", str(path), f"case{case:05d}", labels[case])
            for d, dim in enumerate(dims)
        )
    return recordings


def _label(value: bytes) -> str | None:
    return None if value == b"?" else value.decode("ascii")


def _row_error(exc: ValueError | IndexError, path: Path, lines: _Lines) -> DataError:
    """What broke the data row scipy was reading (the last line read), in the format's terms."""
    if not (lines.header and _DATA.match(lines.header[-1])):
        return DataError(f"corrupt header: {exc}", file=path, segment="header")
    line = lines.current.strip()
    where = f"line {lines.number}"
    hint = None
    if not lines.current.endswith("\n"):
        hint = "the file ends in the middle of this row: it looks truncated"
    quote, first = _quote(line), _quote(lines.first_row)
    if quote and first and quote != first:
        hint = f"scipy reads every row with the first row's {first} quotes; quote all rows alike"
    if line.startswith("{"):
        return DataError("sparse .arff rows are not supported", file=path, segment=where)
    declared = len(loadarff(io.StringIO("".join(lines.header)))[1].names())
    values = next(csv.reader([line], quotechar=quote or '"', skipinitialspace=True), [])
    if len(values) != declared:
        rule = f"{len(values)} values where the header declares {declared} attributes"
    elif found := re.search(r"could not convert string to float: (['\"])(.*)\1$", str(exc)):
        token = found.group(2).strip()
        rule = f"not a number: {token[:40]!r}" if token else "an empty value"
    elif found := re.fullmatch(r"(.*) value not in (\(.*\))", str(exc)):
        rule = f"{found.group(1)!r} is not among the nominal values {found.group(2)}"
    elif isinstance(exc, IndexError):
        rule = "a dimension holds fewer values than the relational attribute declares"
    else:
        rule = f"scipy's ARFF reader refused the row: {exc}"
    return DataError(rule, file=path, segment=where, hint=hint)


def _quote(line: str) -> str:
    """The quote character a row opens with first (``'`` or ``"``), or ``""``."""
    found = re.search(r"['\"]", line)
    return found.group(0) if found else ""
