"""Report wording and summary content, independent of a GX run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biomoe.validation.report import (
    Failure,
    RuleResult,
    ValidationFailed,
    ValidationReport,
    require_valid,
    write_summary,
)
from biomoe.validation.runner import _exception_message

RANGE = "SpO2 values must lie within [50, 100] %"


def _report(*rules: RuleResult) -> ValidationReport:
    return ValidationReport("data/interim/windows.parquet", "ab" * 32, 10, rules, "data_docs/x")


def test_failure_message_names_file_and_segment_or_the_table():
    window = Failure("range.SpO2", RANGE, "min 12", "S3/HIGH_2/SpO2", "train/SpO2/S3.csv", "HIGH_2")
    table = Failure("schema.columns", "columns must exist", "no column 'fs'")

    assert window.message("t.parquet") == (
        f"file train/SpO2/S3.csv, segment 'HIGH_2': {RANGE} (observed min 12)"
    )
    assert (
        table.message("t.parquet") == "file t.parquet: columns must exist (observed no column 'fs')"
    )


def test_format_lists_failures_then_skipped_rules():
    failure = Failure("range.SpO2", RANGE, "min 12", "w", "f.csv", "LOW_1", "SpO2")
    report = _report(
        RuleResult("range.SpO2", RANGE, "failed", 3, (failure,)),
        RuleResult("fs.expected", "fs must be 100 Hz", "skipped", 0, (), "missing columns fs"),
        RuleResult("label.known", "labels", "passed", 0, ()),
    )

    assert not report.success
    assert report.failed_rules == ("range.SpO2",)
    assert report.format().splitlines() == [
        "data/interim/windows.parquet: 1 of 3 validation rules failed (10 windows)",
        "[range.SpO2] 3 failing:",
        f"  file f.csv, segment 'LOW_1': {RANGE} (observed min 12)",
        "  ... and 2 more",
        "not checked until the schema is fixed: fs.expected",
        "details: data_docs/x (Great Expectations data docs)",
    ]
    with pytest.raises(ValidationFailed, match=r"segment 'LOW_1'"):
        require_valid(report)


def test_summary_has_sorted_keys_and_no_absolute_paths(tmp_path: Path):
    report = _report(RuleResult("label.known", "labels", "passed", 0, ()))
    write_summary(report, tmp_path / "summary.json")
    text = (tmp_path / "summary.json").read_text()

    summary = json.loads(text)
    assert list(summary) == sorted(summary)
    assert summary["windows_file"] == "windows.parquet"
    assert summary["windows_sha256"] == "ab" * 32
    assert summary["success"] is True
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_gx_exception_info_in_both_shapes():
    flat = {"raised_exception": True, "exception_message": "boom"}
    by_metric = {"MetricConfigurationID(...)": {"raised_exception": True, "exception_message": "x"}}

    assert _exception_message(flat) == "boom"
    assert _exception_message(by_metric) == "x"
    assert _exception_message({"raised_exception": False}) is None
