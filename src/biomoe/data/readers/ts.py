"""UCR/UEA ``.ts`` files, read by sktime's loader (``load_from_tsfile_to_dataframe``).

Univariate or multivariate, equal or unequal length, with class labels (``@classLabel true
<labels>``), a regression target (``@targetLabel true``: no label) or neither; ``?`` is a
missing value. sktime requires the ``@problemName``, ``@timeStamps``, ``@univariate`` and
``@classLabel``/``@targetLabel`` tags. It does not return the header, lower-cases every line and
checks labels only in time-stamped files, so this adapter reads the header tags itself: it
refuses time-stamped series (``@timeStamps true``), checks each case's label against
``@classLabel`` (case-insensitively, as sktime reads it) and returns it as the header spells it,
checks ``@dimensions``, and names the line of a case sktime refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biomoe.data.readers.base import ReadSpec, Recording, as_signal, given_fs
from biomoe.errors import DataError

SUFFIXES = (".ts",)
_REQUIRED_TAGS = ("problemname", "timestamps", "univariate")


@dataclass(frozen=True)
class _Layout:
    """The header tags (lower-case name -> value as written), and each case's line number and
    text, as sktime splits the file: every non-blank line after ``@data`` is one case."""

    tags: dict[str, str]
    cases: list[tuple[int, str]]
    truncated: bool

    def error(self, rule: str, path: Path, case: int) -> DataError:
        """A ``DataError`` at a case's line, with a hint when that line is a cut last line."""
        cut = self.truncated and case == len(self.cases) - 1
        return DataError(
            rule,
            file=path,
            segment=f"line {self.cases[case][0]}",
            hint="the file ends in the middle of this line: it looks truncated" if cut else None,
        )

    def flag(self, tag: str) -> bool:
        return self.tags.get(tag, "false").lower().split()[:1] == ["true"]

    @property
    def dimensions(self) -> int | None:
        value = self.tags.get("dimensions", "")
        return int(value) if value.isdigit() else None


def read_ts(path: Path, spec: ReadSpec) -> list[Recording]:
    fs = given_fs(spec, path)
    layout = _layout(path)
    if layout.flag("timestamps"):
        raise DataError(
            "time-stamped .ts series are not supported",
            file=path,
            segment="@timeStamps",
            hint="export the series without time stamps",
        )
    from sktime.datasets import load_from_tsfile_to_dataframe

    try:
        loaded = load_from_tsfile_to_dataframe(str(path), return_separate_X_and_y=True)
    except ValueError as exc:
        raise _value_error(exc, path, layout) from exc
    except OSError as exc:
        raise _loader_error(exc, path, layout) from exc
    frame, targets = loaded if isinstance(loaded, tuple) else (loaded, None)
    n_cases, n_dims = frame.shape
    if layout.dimensions is not None and layout.dimensions != n_dims:
        raise layout.error(
            f"{n_dims} dimensions where @dimensions says {layout.dimensions}", path, 0
        )
    labels = _labels(targets, path, layout)
    return [
        Recording(
            as_signal(frame.iat[case, dim].to_numpy(dtype=np.float64)),
            fs,
            f"dim_{dim}",
            str(path),
            f"case{case:05d}",
            labels[case],
        )
        for case in range(n_cases)
        for dim in range(n_dims)
    ]


def _layout(path: Path) -> _Layout:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not a text file: {exc.reason}", file=path) from exc
    tags: dict[str, str] = {}
    cases: list[tuple[int, str]] = []
    in_data = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if in_data and line:
            cases.append((number, line))
        elif line.startswith("@"):
            tag, _, value = line[1:].partition(" ")
            tags[tag.lower()] = value.strip()
            in_data = tag.lower() == "data"
    truncated = bool(text) and not text.endswith(("\n", "\r"))
    if not in_data:
        raise DataError(
            "no @data section: not a .ts file",
            file=path,
            hint="the file ends in its header: it looks truncated" if tags else None,
        )
    if not cases:
        raise DataError("the @data section holds no case", file=path)
    return _Layout(tags, cases, truncated)


def _labels(targets: np.ndarray | None, path: Path, layout: _Layout) -> list[str | None]:
    """Each case's class as ``@classLabel`` spells it; None without classes or for a target."""
    if targets is None or not layout.flag("classlabel"):
        return [None] * len(layout.cases)
    declared = layout.tags["classlabel"].split()[1:]
    spelling = {label.lower(): label for label in declared}
    if len(spelling) < len(set(declared)):
        raise DataError(
            f"@classLabel {declared} holds labels that differ only in letter case, which "
            "sktime's loader cannot tell apart",
            file=path,
            segment="@classLabel",
        )
    labels: list[str | None] = []
    for case, target in enumerate(targets):
        if str(target) not in spelling:
            written = layout.cases[case][1].rsplit(":", 1)[-1].strip()
            raise layout.error(
                f"class label {written!r} is not among @classLabel {declared}", path, case
            )
        labels.append(spelling[str(target)])
    return labels


def _value_error(exc: ValueError, path: Path, layout: _Layout) -> DataError:
    """sktime's ``float()`` failure, at the first case holding the token it quotes."""
    match = re.search(r"could not convert string to float: (['\"])(.*)\1$", str(exc))
    if match is None:
        return DataError(f"sktime's .ts loader refused the file: {exc}", file=path)
    token = match.group(2)
    for case, (_, line) in enumerate(layout.cases):
        for dimension in line.split(":"):
            for value in dimension.strip().split(","):
                if dimension.strip() and value.lower().replace("?", "NaN") == token:
                    rule = f"not a number: {value.strip()[:40]!r}" if token else "an empty value"
                    return layout.error(rule, path, case)
    return DataError(f"not a number: {token.strip()[:40]!r}", file=path)


def _loader_error(exc: OSError, path: Path, layout: _Layout) -> DataError:
    message = str(exc)
    found = re.match(
        r"inconsistent number of dimensions\. Expecting (\d+) but have read (\d+)", message
    )
    if found is not None:
        expected, read = (int(n) for n in found.groups())
        declared = layout.dimensions
        if declared is not None and declared != expected:
            return layout.error(f"{expected} dimensions where @dimensions says {declared}", path, 0)
        colons = layout.cases[0][1].count(":")
        case = next((i for i, (_, line) in enumerate(layout.cases) if line.count(":") != colons), 0)
        basis = "the first case has" if declared is None else "@dimensions says"
        return layout.error(f"{read} dimensions where {basis} {expected}", path, case)
    if "metadata" in message:
        missing = [f"@{t}" for t in _REQUIRED_TAGS if t not in layout.tags]
        if "classlabel" not in layout.tags and "targetlabel" not in layout.tags:
            missing.append("@classLabel or @targetLabel")
        return DataError(
            f"the header lacks {', '.join(missing) or 'a tag'} (sktime's loader needs them)",
            file=path,
            segment="header",
        )
    return DataError(f"sktime's .ts loader refused the file: {message}", file=path)
