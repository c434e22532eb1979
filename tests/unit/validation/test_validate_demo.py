"""Validation of tables ingested from the demo dataset, clean and with corrupted raw CSVs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biomoe.errors import BiomoeError
from biomoe.io import sha256_file
from biomoe.validation.report import ValidationFailed, ValidationReport, require_valid


def test_clean_demo_passes_and_writes_reports(clean_windows: Path, validate, tmp_path: Path):
    report = validate(clean_windows)

    assert report.success, report.format()
    assert report.failures == ()
    assert {r.status for r in report.rules} == {"passed"}
    assert require_valid(report) is report
    assert "all" in report.format() and "passed" in report.format()
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["success"] is True
    assert summary["n_windows"] == report.n_windows > 0
    assert summary["rules"]["range.SpO2"] == {
        "failures": [],
        "n_failed": 0,
        "rule": "SpO2 values must lie within [50, 100] %",
        "skipped_because": None,
        "status": "passed",
        "success": True,
    }
    docs = tmp_path / "report" / "data_docs"
    assert (docs / "index.html").is_file()
    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == 1
    assert "signal_min" in pages[0].read_text()


def test_summary_is_deterministic_and_the_table_untouched(clean_windows: Path, validate, tmp_path):
    before = (sha256_file(clean_windows), clean_windows.stat().st_mtime_ns)
    validate(clean_windows, report_dir=tmp_path / "a")
    validate(clean_windows, report_dir=tmp_path / "b")
    validate(clean_windows, report_dir=tmp_path / "b")  # over an existing report

    assert (tmp_path / "a" / "summary.json").read_bytes() == (
        tmp_path / "b" / "summary.json"
    ).read_bytes()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["data_docs", "summary.json"]
    assert len(list((tmp_path / "b" / "data_docs" / "validations").rglob("*.html"))) == 1
    assert (sha256_file(clean_windows), clean_windows.stat().st_mtime_ns) == before


def _edit_segment(csv: Path, segment: str, change: Callable[[np.ndarray], np.ndarray]) -> None:
    """Rewrite one segment column of a raw CSV; ``change`` gets the samples without padding."""
    frame = pd.read_csv(csv, dtype=float)
    column = frame[segment].to_numpy()
    samples = column[: np.flatnonzero(~np.isnan(column))[-1] + 1].copy()
    new = change(samples)
    padded = np.full(len(frame), np.nan)
    padded[: len(new)] = new
    frame[segment] = padded
    frame.to_csv(csv, index=False, float_format="%.5f", na_rep="")


def _set_range(start: int, stop: int, value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(x: np.ndarray) -> np.ndarray:
        x[start:stop] = value
        return x

    return change


@dataclass(frozen=True)
class Corruption:
    file: str
    segment: str
    change: Callable[[np.ndarray], np.ndarray]
    rule: str
    observed: str


CORRUPTIONS = {
    "spo2_out_of_range": Corruption(
        "train/SpO2/S003.csv", "HIGH_2", _set_range(100, 200, 12.0), "range.SpO2", "min 12"
    ),
    "negative_eda": Corruption(
        "train/Eda/S002.csv", "LOW_1", lambda x: x - x.max() - 1.0, "range.Eda", "min -"
    ),
    "nan_run": Corruption(
        "validation/Resp/S005.csv",
        "HIGH_1",
        _set_range(200, 500, np.nan),
        "signal.nan_fraction",
        "NaN fraction 0.",
    ),
    "flat_line": Corruption(
        "train/Bvp/S004.csv",
        "Baseline",
        lambda x: np.full_like(x, 0.25),
        "signal.flat_line",
        "std 0",
    ),
    "too_short": Corruption(
        "train/SpO2/S001.csv", "LOW_2", lambda x: x[:300], "segment.duration", "3 s"
    ),
}


@pytest.mark.parametrize("case", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupted_csv_fails_the_right_rule(
    case: Corruption, raw_copy: Path, ingest_copy, validate
):
    _edit_segment(raw_copy / case.file, case.segment, case.change)
    report = validate(ingest_copy())

    assert not report.success
    assert report.failed_rules == (case.rule,)
    (failure,) = report.failures
    assert (failure.source_file, failure.segment) == (case.file, case.segment)
    assert case.observed in failure.observed
    message = report.format()
    assert f"file {case.file}, segment '{case.segment}': " in message
    assert failure.text in message


def test_spo2_failure_in_summary_and_exception(raw_copy: Path, ingest_copy, validate, tmp_path):
    case = CORRUPTIONS["spo2_out_of_range"]
    _edit_segment(raw_copy / case.file, case.segment, case.change)
    report = validate(ingest_copy())

    with pytest.raises(ValidationFailed) as caught:
        require_valid(report)
    assert isinstance(caught.value, BiomoeError)
    assert caught.value.report is report
    assert (
        "file train/SpO2/S003.csv, segment 'HIGH_2': SpO2 values must lie within [50, 100] % "
        "(observed min 12)" in str(caught.value)
    )
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["success"] is False
    rule = summary["rules"]["range.SpO2"]
    assert (rule["success"], rule["n_failed"]) == (False, 1)
    assert rule["failures"] == [
        {
            "modality": "SpO2",
            "observed": "min 12",
            "rule": "SpO2 values must lie within [50, 100] %",
            "segment": "HIGH_2",
            "source_file": "train/SpO2/S003.csv",
            "window_id": "S003/HIGH_2/SpO2",
        }
    ]


def test_subject_copied_into_another_split_fails(raw_copy: Path, ingest_copy, validate):
    for modality in ("Bvp", "Eda", "Resp", "SpO2"):
        shutil.copy(
            raw_copy / "train" / modality / "S002.csv",
            raw_copy / "validation" / modality / "S002.csv",
        )
    report: ValidationReport = validate(ingest_copy())

    assert "subject.one_split" in report.failed_rules
    assert set(report.failed_rules) <= {"subject.one_split", "window_id.unique"}
    (rule,) = [r for r in report.rules if r.name == "subject.one_split"]
    assert rule.n_failed == 2 * 4 * 5  # both copies x 4 modalities x 5 segments
    assert {f.source_file for f in rule.failures} >= {"train/Bvp/S002.csv"}
    assert all(f.observed == "subject S002 in train,validation" for f in rule.failures)
    assert (
        "file train/Bvp/S002.csv, segment 'Baseline': each subject must belong to exactly one split"
        in report.format()
    )
