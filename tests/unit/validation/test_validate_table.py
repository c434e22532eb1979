"""Validation of windows tables broken at the table level (schema, labels, fs, completeness)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from biomoe.errors import DataError
from biomoe.validation.report import ValidationReport

ROW = 5  # a train window of the clean demo table


def _set(table: pa.Table, column: str, row: int, value: object) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.column_names.index(column)
    return table.set_column(index, column, pa.array(values, type=table.schema.field(column).type))


def _rule(report: ValidationReport, name: str):
    (rule,) = [r for r in report.rules if r.name == name]
    return rule


def _where(table: pa.Table, row: int) -> str:
    return f"file {table['source_file'][row]}, segment '{table['segment'][row]}': "


def test_missing_column_fails_schema_and_skips_its_rules(table_copy, validate, tmp_path):
    report = validate(table_copy(lambda t: t.drop_columns(["label"])))

    assert report.failed_rules == ("schema.columns",)
    (failure,) = report.failures
    assert failure.observed == "no column 'label'"
    assert failure.source_file is None and failure.segment is None
    assert _rule(report, "label.known").status == "skipped"
    assert _rule(report, "label.required").skipped_because == "missing columns label"
    message = report.format()
    assert "changed.parquet: the windows table must have the columns" in message
    assert "not checked until the schema is fixed: " in message
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["rules"]["label.known"]["success"] is None


def test_wrong_signal_type_fails_schema_types(table_copy, validate):
    def to_double(t: pa.Table) -> pa.Table:
        index = t.column_names.index("signal")
        return t.set_column(index, "signal", t["signal"].cast(pa.list_(pa.float64())))

    report = validate(table_copy(to_double))

    assert report.failed_rules == ("schema.types",)
    assert _rule(report, "schema.types").n_failed == report.n_windows
    assert report.failures[0].observed == "signal of float64"


def test_bad_label_fails_label_known(table_copy, validate, clean_windows):
    report = validate(table_copy(lambda t: _set(t, "label", ROW, "Medium")))

    assert report.failed_rules == ("label.known",)
    (failure,) = report.failures
    assert failure.observed == "label 'Medium'"
    assert failure.window_id == pq.read_table(clean_windows)["window_id"][ROW].as_py()


def test_missing_train_label_fails_label_required(table_copy, validate):
    report = validate(table_copy(lambda t: _set(t, "label", ROW, None)))

    assert report.failed_rules == ("label.required",)
    assert report.failures[0].observed == "no label in split 'train'"


def test_unlabelled_test_windows_pass(table_copy, validate):
    def unlabel_test(t: pa.Table) -> pa.Table:
        labels = pc.if_else(pc.equal(t["split"], "test"), pa.scalar(None, pa.string()), t["label"])
        return t.set_column(t.column_names.index("label"), "label", labels)

    assert validate(table_copy(unlabel_test)).success


def test_wrong_sampling_rate_fails_fs_rule(table_copy, validate, clean_windows):
    changed = table_copy(lambda t: _set(t, "fs", ROW, 128))
    report = validate(changed)

    assert report.failed_rules == ("fs.expected",)
    assert report.failures[0].observed == "fs 128 Hz"
    table = pq.read_table(clean_windows)
    assert _where(table, ROW) + "the sampling rate must be 100 Hz (observed fs 128 Hz)" in (
        report.format()
    )


def test_incomplete_sample_fails_modality_completeness(table_copy, validate):
    report = validate(table_copy(lambda t: t.slice(1)))  # drops S001/Baseline/Bvp

    assert report.failed_rules == ("sample.modalities_complete",)
    assert [f.window_id for f in report.failures] == [
        "S001/Baseline/Eda",
        "S001/Baseline/Resp",
        "S001/Baseline/SpO2",
    ]
    assert {f.observed for f in report.failures} == {"missing Bvp"}


def test_duplicate_window_fails_uniqueness(table_copy, validate):
    report = validate(table_copy(lambda t: pa.concat_tables([t, t.slice(ROW, 1)])))

    assert report.failed_rules == ("window_id.unique",)
    assert _rule(report, "window_id.unique").n_failed == 2


def test_n_samples_must_match_signal(table_copy, validate):
    report = validate(table_copy(lambda t: _set(t, "n_samples", ROW, 7)))

    assert report.failed_rules == ("n_samples.consistent",)
    assert report.failures[0].observed.startswith("n_samples 7, signal length ")


def test_empty_table_fails(table_copy, validate):
    report = validate(table_copy(lambda t: t.slice(0, 0)))

    assert report.failed_rules == ("table.not_empty",)
    assert report.failures[0].observed == "0 windows"


def test_failures_listed_are_capped(table_copy, validate, tiny_params):
    def all_spo2_low(t: pa.Table) -> pa.Table:
        rows = [
            [v - 90.0 for v in signal] if modality == "SpO2" else signal
            for signal, modality in zip(
                t["signal"].to_pylist(), t["modality"].to_pylist(), strict=True
            )
        ]
        array = pa.array(rows, type=t.schema.field("signal").type)
        return t.set_column(t.column_names.index("signal"), "signal", array)

    params = tiny_params.validate.model_copy(update={"max_failures_listed": 2})
    report = validate(table_copy(all_spo2_low), params=params)

    rule = _rule(report, "range.SpO2")
    assert rule.n_failed == report.n_windows // 4
    assert len(rule.failures) == 2
    assert f"... and {rule.n_failed - 2} more" in report.format()


def test_missing_table_is_a_data_error(tmp_path: Path, validate):
    with pytest.raises(DataError, match=r"windows\.parquet.*does not exist"):
        validate(tmp_path / "windows.parquet")
    assert not (tmp_path / "report").exists()
