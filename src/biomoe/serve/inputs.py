"""What the served pain classifier accepts, checked before any image is drawn.

The input is a DataFrame with one row per sample and one column per modality; each cell is a
1-D array of numbers, the window at the training sampling rate. A window is accepted when it
is what the model was trained on (the validate stage's rules, :class:`WindowSpec`):

- its length lies within ``[min_seconds, max_seconds]`` at ``fs`` (NaN samples count, as in
  the windows table);
- NaN (JSON ``null``) marks a missing sample, as an empty CSV cell does: up to
  ``max_nan_fraction`` of the window may be missing (imaging interpolates the gaps, as it did
  for training), more is rejected, and so is a window with no finite sample;
- infinities are never accepted.

Every problem is reported, up to :data:`MAX_LISTED`, in one :class:`DataError` whose message
names the row (or the caller's ``where``), the column and the rule.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from biomoe.errors import DataError

MAX_LISTED = 5
"""Problems spelled out in one error message; the rest are counted."""


@dataclass(frozen=True)
class WindowSpec:
    """The windows the model was trained on: ``fs`` Hz, ``min_seconds`` to ``max_seconds``
    long, at most ``max_nan_fraction`` missing."""

    fs: int
    min_seconds: float
    max_seconds: float
    max_nan_fraction: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WindowSpec:
        return cls(
            int(data["fs"]),
            float(data["min_seconds"]),
            float(data["max_seconds"]),
            float(data["max_nan_fraction"]),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def rule(self) -> str:
        low, high = self.min_seconds * self.fs, self.max_seconds * self.fs
        return (
            f"{self.min_seconds:g}-{self.max_seconds:g} s at {self.fs} Hz "
            f"({low:.0f}-{high:.0f} samples)"
        )


Where = Callable[[int, str], str]
"""How a message names the cell of row ``i`` and ``modality`` (e.g. its source file)."""


def cell_name(row: int, modality: str) -> str:
    return f"row {row}, column {modality!r}"


def check_windows(
    frame: object,
    modalities: Sequence[str],
    spec: WindowSpec,
    where: Where = cell_name,
) -> dict[str, list[np.ndarray]]:
    """The float32 windows of each modality, one per row; :class:`DataError` if any breaks a
    rule (module docstring). Columns other than ``modalities`` are ignored."""
    expected = f"one row per sample, one column per modality {list(modalities)}"
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"input is a {type(frame).__name__}, not a table", hint=expected)
    missing = [m for m in modalities if m not in frame.columns]
    if missing:
        raise DataError(
            f"input lacks modality column(s) {missing}",
            hint=f"{expected}; each cell an array of the window at {spec.fs} Hz",
        )
    if len(frame) == 0:
        raise DataError("input is empty: no rows", hint=expected)
    problems: list[str] = []
    windows: dict[str, list[np.ndarray]] = {m: [] for m in modalities}
    for modality in modalities:
        for row, cell in enumerate(frame[modality]):
            window, problem = _window(cell, spec)
            if problem:
                problems.append(f"{where(row, modality)}: {problem}")
            else:
                windows[modality].append(window)
    if problems:
        listed = "; ".join(problems[:MAX_LISTED])
        more = len(problems) - MAX_LISTED
        summary = f"{len(problems)} invalid window(s): {listed}"
        if more > 0:
            summary += f"; and {more} more"
        raise DataError(summary, hint=f"the model accepts windows of {spec.rule}")
    return windows


def _window(cell: object, spec: WindowSpec) -> tuple[np.ndarray, str | None]:
    """The cell as float32, or the rule it breaks."""
    values, problem = _numbers(cell)
    if problem:
        return values, problem
    n = values.size
    if not spec.min_seconds * spec.fs <= n <= spec.max_seconds * spec.fs:
        return values, (
            f"window has {n} samples ({n / spec.fs:g} s at {spec.fs} Hz), outside the "
            f"{spec.min_seconds:g}-{spec.max_seconds:g} s the model was trained on"
        )
    infinite = np.isinf(values)
    if infinite.any():
        first = int(np.flatnonzero(infinite)[0])
        return values, (
            f"window holds {int(infinite.sum())} infinite value(s), the first at sample "
            f"{first}; mark a missing sample with NaN or null"
        )
    missing = int(np.isnan(values).sum())
    if missing == n:
        return values, "window has no finite sample (all NaN/null)"
    if missing / n > spec.max_nan_fraction:
        return values, (
            f"window is {missing / n:.1%} missing ({missing} of {n} samples NaN/null); at "
            f"most {spec.max_nan_fraction:.1%} may be missing, as in training"
        )
    return values.astype(np.float32), None


def _numbers(cell: object) -> tuple[np.ndarray, str | None]:
    """A 1-D float64 array of the cell; None inside it is a missing sample (NaN)."""
    empty = np.empty(0)
    if cell is None or isinstance(cell, str | bytes | numbers.Number):
        return empty, f"cell is {_kind(cell)}, not an array of numbers"
    try:
        array = np.asarray(cell)
    except ValueError:
        return empty, "cell is ragged (nested arrays of different lengths), not a 1-D array"
    if array.ndim != 1:
        return empty, f"cell is a {array.ndim}-D array {array.shape}; expected a 1-D array"
    if array.dtype.kind in "iuf":
        return array.astype(np.float64), None
    values = np.empty(array.size)
    for i, value in enumerate(cell if isinstance(cell, list | tuple) else array):
        if value is None:
            values[i] = np.nan
        elif isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
            values[i] = float(value)
        else:
            return empty, f"sample {i} is {_kind(value)}, not a number"
    return values, None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str | bytes):
        return f"the text {value!r}"[:60]
    if isinstance(value, list | tuple | np.ndarray):
        return "an array"
    return f"a {type(value).__name__} ({value!r})"[:60]
