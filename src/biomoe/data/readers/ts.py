"""UCR/UEA ``.ts`` files (the sktime/aeon format), univariate or multivariate, equal or unequal
length, with or without class labels.

Header lines start with ``@`` (``@problemName``, ``@timeStamps``, ``@univariate``,
``@dimensions``, ``@classLabel true <labels...>``, ``@targetLabel``, ``@data``); ``#`` lines are
comments. After ``@data`` each line is one case: dimensions separated by ``:``, values by ``,``,
``?`` for a missing value, and the class label (or regression target) as the last field.
Time-stamped series (``@timeStamps true``) are not supported.
"""

from __future__ import annotations

from pathlib import Path

from biomoe.data.readers.base import ReadSpec, Recording, as_signal, given_fs, parse_floats
from biomoe.errors import DataError

SUFFIXES = (".ts",)


def read_ts(path: Path, spec: ReadSpec) -> list[Recording]:
    fs = given_fs(spec, path)
    header, data = _split(path)
    labels = _class_labels(header, path)
    has_target = header.get("targetlabel", "false").split()[:1] == ["true"]
    if header.get("timestamps", "false").lower().startswith("true"):
        raise DataError(
            "time-stamped .ts series are not supported",
            file=path,
            segment="@timeStamps",
            hint="export the series without time stamps",
        )
    dimensions = int(header["dimensions"]) if header.get("dimensions", "").isdigit() else None
    recordings: list[Recording] = []
    n_dims: int | None = None
    for case, (number, line) in enumerate(data):
        where = f"line {number}"
        fields = line.split(":")
        label = None
        if labels is not None or has_target:
            if len(fields) < 2:
                raise DataError(
                    "a case needs its values and a class label", file=path, segment=where
                )
            label = fields.pop().strip()
            if labels is not None and label not in labels:
                raise DataError(
                    f"class label {label!r} is not among @classLabel {sorted(labels)}",
                    file=path,
                    segment=where,
                )
            if has_target:
                label = None
        if dimensions is not None and len(fields) != dimensions:
            raise DataError(
                f"{len(fields)} dimensions where @dimensions says {dimensions}",
                file=path,
                segment=where,
            )
        if n_dims is not None and len(fields) != n_dims:
            raise DataError(
                f"{len(fields)} dimensions where the first case has {n_dims}",
                file=path,
                segment=where,
            )
        n_dims = len(fields)
        for dim, values in enumerate(fields):
            if "(" in values:
                raise DataError("time-stamped values are not supported", file=path, segment=where)
            signal = parse_floats(values.split(","), path, f"{where}, dimension {dim}")
            recordings.append(
                Recording(as_signal(signal), fs, f"dim_{dim}", str(path), f"case{case:05d}", label)
            )
    return recordings


def _split(path: Path) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Header tags (lower-case name -> rest of line) and the numbered data lines."""
    header: dict[str, str] = {}
    data: list[tuple[int, str]] = []
    in_data = False
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise DataError(f"not a text file: {exc.reason}", file=path) from exc
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if in_data:
            data.append((number, line))
        elif line.startswith("@"):
            tag, _, rest = line[1:].partition(" ")
            header[tag.lower()] = rest.strip()
            in_data = tag.lower() == "data"
        else:
            raise DataError(
                "a line before @data must be a @tag or a # comment",
                file=path,
                segment=f"line {number}",
            )
    if not in_data:
        raise DataError("no @data section: not a .ts file", file=path)
    if not data:
        raise DataError("the @data section holds no case", file=path)
    return header, data


def _class_labels(header: dict[str, str], path: Path) -> set[str] | None:
    words = header.get("classlabel", "false").split()
    if not words or words[0].lower() == "false":
        return None
    if words[0].lower() != "true" or len(words) < 2:
        raise DataError(
            "@classLabel must be 'false' or 'true' followed by the labels",
            file=path,
            segment="@classLabel",
        )
    return set(words[1:])
