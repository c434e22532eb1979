from __future__ import annotations

import json
from pathlib import Path

import pytest

from biomoe.errors import BiomoeError
from biomoe.lineage import Outcome
from biomoe.paths import ProjectPaths
from biomoe.reporting import read_retrain_report, retrain_report

RECEIPT = {"model_name": "pain-classifier", "version": "3", "alias": "champion"}


def test_nested_metrics_of_any_shape_become_dotted_rows() -> None:
    metrics = {
        "validation": {"macro_f1": 0.123456, "ci": {"macro_f1": [0.1, 0.25]}, "n": 12},
        "confusion_matrix": [[1, 2], [3, 4]],
        "protocol": "kfold",
    }
    report = retrain_report(metrics, RECEIPT, "http://127.0.0.1:5000")
    assert "| validation.macro_f1 | 0.1235 |" in report
    assert "| validation.ci.macro_f1 | [0.1, 0.25] |" in report
    assert "| validation.n | 12 |" in report
    assert "| confusion_matrix | [[1, 2], [3, 4]] |" in report
    assert "| protocol | kfold |" in report


def test_links_to_the_mlflow_run_and_model_version() -> None:
    receipt = {**RECEIPT, "run_id": "abc123", "experiment_id": "7"}
    report = retrain_report({}, receipt, "http://mlflow.example:5000/")
    assert "version 3 (alias `champion`)" in report
    assert "(http://mlflow.example:5000/#/experiments/7/runs/abc123)" in report
    assert "(http://mlflow.example:5000/#/models/pain-classifier/versions/3)" in report


def test_a_receipt_without_a_run_id_still_links_the_model_version() -> None:
    report = retrain_report({"a": 1.0}, RECEIPT, "http://127.0.0.1:5000")
    assert "unknown (no reports/registry_run.json)" in report
    assert "#/models/pain-classifier/versions/3" in report


def test_table_cells_cannot_break_the_table() -> None:
    report = retrain_report({"odd|key": "a|b"}, RECEIPT, "http://127.0.0.1:5000")
    assert "| odd\\|key | a\\|b |" in report


def test_missing_outputs_name_the_file_and_stage(tmp_path: Path) -> None:
    paths = ProjectPaths.at(tmp_path)
    paths.metrics_dir.mkdir()
    paths.classifier_metrics.write_text(json.dumps({"validation": {"accuracy": 0.5}}))
    with pytest.raises(BiomoeError, match=r"registry\.json.*register stage"):
        read_retrain_report(paths, "http://127.0.0.1:5000")


def test_report_reads_run_ids_and_the_results_table(tmp_path: Path) -> None:
    paths = ProjectPaths.at(tmp_path)
    paths.metrics_dir.mkdir()
    paths.classifier_metrics.write_text(json.dumps({"validation": {"accuracy": 0.5}}))
    paths.registry_receipt.parent.mkdir()
    paths.registry_receipt.write_text(json.dumps(RECEIPT))
    paths.registry_run.write_text(json.dumps({"run_id": "r1", "experiment_id": "4"}))
    paths.evaluation_report.write_text("| row | macro-F1 |\n| Eda | 0.5 |\n")
    report = read_retrain_report(paths, "http://127.0.0.1:5000")
    assert "(http://127.0.0.1:5000/#/experiments/4/runs/r1)" in report
    assert report.endswith(
        "## Results table (evaluate stage)\n\n| row | macro-F1 |\n| Eda | 0.5 |\n"
    )


STAGES = ("ingest", "train", "register")


def test_a_run_that_ran_nothing_says_nothing_changed_since_the_current_version() -> None:
    outcomes = [Outcome(stage, "skipped") for stage in STAGES]
    report = retrain_report({}, RECEIPT, "http://127.0.0.1:5000", outcomes)
    assert report.startswith(
        "# Nothing changed since `pain-classifier` version 3 (alias `champion`): no stage ran"
    )
    assert "| ingest | skipped: unchanged |" in report


def test_a_run_that_registered_nothing_names_the_current_version_and_what_ran() -> None:
    outcomes = [
        Outcome("ingest", "ran", ("dep data/raw",)),
        Outcome("train", "skipped"),
        Outcome("register", "skipped"),
    ]
    report = retrain_report({}, RECEIPT, "http://127.0.0.1:5000", outcomes)
    assert report.startswith("# No new version: `pain-classifier` version 3 (alias `champion`)")
    assert "(ingest re-ran and wrote what dvc.lock records)" in report
    assert "| ingest | ran: dep data/raw |" in report


def test_a_run_that_registered_says_retrained() -> None:
    outcomes = [Outcome(stage, "ran", ("dep x",)) for stage in STAGES]
    report = retrain_report({}, RECEIPT, "http://127.0.0.1:5000", outcomes)
    assert report.startswith("# Retrained `pain-classifier` version 3")
    assert "## Stages" in report
