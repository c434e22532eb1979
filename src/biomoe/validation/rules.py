"""The rules a windows table must meet, each a named group of GX expectations.

Every expectation runs on the per-window stats frame (:func:`biomoe.validation.stats.window_stats`).
A :class:`Check` pairs one expectation with the frame columns it needs and a function that
describes the observed value of a failing window, so a failure reads as a sentence about a
file and a segment rather than a GX metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import great_expectations.expectations as gxe
import numpy as np
import pyarrow as pa
from great_expectations.expectations.row_conditions import Column

from biomoe.data.params import PAIN_LABELS, SPLITS
from biomoe.data.segments import REST_LABEL
from biomoe.data.windows import WINDOW_COLUMNS, WINDOWS_SCHEMA
from biomoe.validation.params import ValidateParams

STRING_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in WINDOWS_SCHEMA if pa.types.is_string(f.type)
)
INT_COLUMNS: tuple[str, ...] = tuple(f.name for f in WINDOWS_SCHEMA if pa.types.is_int64(f.type))
NOT_NULL_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in WINDOWS_SCHEMA if not f.nullable and f.name != "signal"
)
SIGNAL_DTYPE = np.dtype(WINDOWS_SCHEMA.field("signal").type.value_type.to_pandas_dtype()).name
UNITS: Mapping[str, str] = {"SpO2": " %"}

Observed = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True, eq=False)
class Check:
    """One expectation; it runs only when the stats frame has all ``requires`` columns.

    ``observed`` describes what was found: it gets the failing window's row for a row-level
    failure, or GX's result dict for a failure of the table as a whole.
    """

    expectation: gxe.Expectation
    requires: tuple[str, ...]
    observed: Observed


@dataclass(frozen=True)
class Rule:
    name: str
    text: str
    checks: tuple[Check, ...]


def build_rules(params: ValidateParams, fs: int) -> tuple[Rule, ...]:
    """The rule set for ``params``, in report order."""
    rules = [
        Rule(
            "schema.columns",
            "the windows table must have the columns " + ", ".join(WINDOW_COLUMNS),
            tuple(
                Check(gxe.ExpectColumnToExist(column=c), (), lambda _r, c=c: f"no column {c!r}")
                for c in WINDOW_COLUMNS
            ),
        ),
        _rule(
            "table.not_empty",
            "the windows table must have at least one window",
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            (),
            lambda res: f"{res['observed_value']} windows",
        ),
        Rule(
            "schema.types",
            f"columns must have their contract types (text; fs and n_samples int64; "
            f"signal a list of {SIGNAL_DTYPE})",
            (
                *(_type_check(c, "str") for c in STRING_COLUMNS),
                *(_type_check(c, "int64") for c in INT_COLUMNS),
                Check(
                    gxe.ExpectColumnValuesToBeInSet(
                        column="signal_dtype", value_set=[SIGNAL_DTYPE]
                    ),
                    ("signal_dtype",),
                    lambda r: f"signal of {r['signal_dtype']}",
                ),
            ),
        ),
        Rule(
            "schema.not_null",
            "these columns must have a value in every window: " + ", ".join(NOT_NULL_COLUMNS),
            tuple(
                Check(
                    gxe.ExpectColumnValuesToNotBeNull(column=c),
                    (c,),
                    lambda _r, c=c: f"{c} missing",
                )
                for c in NOT_NULL_COLUMNS
            ),
        ),
        _rule(
            "window_id.unique",
            "window_id must be unique",
            gxe.ExpectColumnValuesToBeUnique(column="window_id"),
            ("window_id",),
            lambda r: f"window_id {r['window_id']!r} repeated",
        ),
        _rule(
            "split.known",
            "split must be one of " + ", ".join(SPLITS),
            gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS)),
            ("split",),
            lambda r: f"split {r['split']!r}",
        ),
        _rule(
            "label.known",
            "label must be one of " + ", ".join((*PAIN_LABELS, REST_LABEL)),
            gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[*PAIN_LABELS, REST_LABEL]),
            ("label",),
            lambda r: f"label {r['label']!r}",
        ),
        _rule(
            "label.required",
            "train and validation windows must have a label (only test labels may be missing)",
            gxe.ExpectColumnValuesToNotBeNull(
                column="label", row_condition=Column("split") != "test"
            ),
            ("label", "split"),
            lambda r: f"no label in split {r['split']!r}",
        ),
        _rule(
            "modality.known",
            "modality must be one of " + ", ".join(params.ranges) + " (validate.ranges)",
            gxe.ExpectColumnValuesToBeInSet(column="modality", value_set=list(params.ranges)),
            ("modality",),
            lambda r: f"modality {r['modality']!r}",
        ),
        _rule(
            "fs.expected",
            f"the sampling rate must be {fs} Hz",
            gxe.ExpectColumnValuesToBeInSet(column="fs", value_set=[fs]),
            ("fs",),
            lambda r: f"fs {r['fs']} Hz",
        ),
        _rule(
            "n_samples.consistent",
            "n_samples must equal the number of samples in signal",
            gxe.ExpectColumnPairValuesToBeEqual(column_A="n_samples", column_B="signal_length"),
            ("n_samples", "signal_length"),
            lambda r: f"n_samples {r['n_samples']}, signal length {r['signal_length']}",
        ),
        _rule(
            "segment.duration",
            f"segment length must lie within [{params.min_seconds:g}, {params.max_seconds:g}] s",
            gxe.ExpectColumnValuesToBeBetween(
                column="duration_s", min_value=params.min_seconds, max_value=params.max_seconds
            ),
            ("duration_s",),
            lambda r: f"{r['duration_s']:.6g} s",
        ),
        *(_range_rule(modality, low, high) for modality, (low, high) in params.ranges.items()),
        _rule(
            "signal.nan_fraction",
            f"at most {params.max_nan_fraction:.4g} of the samples may be NaN",
            gxe.ExpectColumnValuesToBeBetween(
                column="nan_fraction", max_value=params.max_nan_fraction
            ),
            ("nan_fraction",),
            lambda r: f"NaN fraction {r['nan_fraction']:.4g}",
        ),
        _rule(
            "signal.flat_line",
            f"the signal must not be a flat line (std of valid samples >= "
            f"{params.flat_line_min_std:g})",
            gxe.ExpectColumnValuesToBeBetween(
                column="signal_std", min_value=params.flat_line_min_std
            ),
            ("signal_std",),
            lambda r: f"std {r['signal_std']:.4g}",
        ),
        _rule(
            "subject.one_split",
            "each subject must belong to exactly one split",
            gxe.ExpectColumnValuesToBeBetween(column="subject_split_count", max_value=1),
            ("subject_split_count", "subject_splits"),
            lambda r: f"subject {r['subject']} in {r['subject_splits']}",
        ),
        _rule(
            "sample.modalities_complete",
            "each sample must have a window for every modality in the table",
            gxe.ExpectColumnValuesToBeInSet(column="sample_modalities_complete", value_set=[True]),
            ("sample_modalities_complete", "sample_missing_modalities"),
            lambda r: f"missing {r['sample_missing_modalities']}",
        ),
    ]
    return tuple(rules)


def _rule(
    name: str,
    text: str,
    expectation: gxe.Expectation,
    requires: tuple[str, ...],
    observed: Observed,
) -> Rule:
    return Rule(name, text, (Check(expectation, requires, observed),))


def _type_check(column: str, type_: str) -> Check:
    def observed(found: Mapping[str, Any]) -> str:
        if column in found:
            return f"{column} {found[column]!r} of type {type(found[column]).__name__}"
        return f"{column} of dtype {found.get('observed_value')}"

    return Check(gxe.ExpectColumnValuesToBeOfType(column=column, type_=type_), (column,), observed)


def _range_rule(modality: str, low: float, high: float) -> Rule:
    only = Column("modality") == modality
    return Rule(
        f"range.{modality}",
        f"{modality} values must lie within [{low:g}, {high:g}]{UNITS.get(modality, '')}",
        (
            Check(
                gxe.ExpectColumnValuesToBeBetween(
                    column="signal_min", min_value=low, row_condition=only
                ),
                ("signal_min", "modality"),
                lambda r: f"min {r['signal_min']:.6g}",
            ),
            Check(
                gxe.ExpectColumnValuesToBeBetween(
                    column="signal_max", max_value=high, row_condition=only
                ),
                ("signal_max", "modality"),
                lambda r: f"max {r['signal_max']:.6g}",
            ),
        ),
    )
