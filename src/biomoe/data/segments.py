"""Segment (column) names of the AI4PAIN layout and the labels they carry.

A recognised name is ``Baseline``, ``LOW_<n>``, ``HIGH_<n>`` or ``REST_<n>`` in any letter case,
optionally behind a numeric prefix (``1_HIGH_1``) and with ``_``, ``-`` or a space as separator.
"""

from __future__ import annotations

import re

REST_LABEL = "Rest"

_KIND_LABELS: dict[str, str] = {"baseline": "No", "low": "Low", "high": "High", "rest": REST_LABEL}

_SEGMENT = re.compile(
    r"^(?:\d+[_\- ]?)?(?P<kind>baseline|low|high|rest)(?:[_\- ]?\d+)?$", re.IGNORECASE
)

SEGMENT_NAME_RULE = (
    "a segment column must be named Baseline, LOW_<n>, HIGH_<n> or REST_<n> "
    "(any case, optional numeric prefix such as 1_HIGH_1)"
)


def segment_label(name: str) -> str | None:
    """The label a column name carries ("No", "Low", "High", "Rest"), or None if unrecognised."""
    match = _SEGMENT.match(name.strip())
    return _KIND_LABELS[match["kind"].lower()] if match else None


def segment_name(kind: str, number: int | None = None) -> str:
    """The name the demo generator writes: ``Baseline``, ``LOW_3``, ``HIGH_12``, ``REST_7``."""
    if kind == "baseline":
        return "Baseline"
    if kind not in _KIND_LABELS:
        raise ValueError(f"unknown segment kind {kind!r}")
    return f"{kind.upper()}_{number}"
