"""Run the rule set through a Great Expectations checkpoint and turn the result into a report.

GX runs in an ephemeral context (nothing persisted besides what we write): one pandas data
source whose dataframe asset is the per-window stats frame, one suite, one validation
definition and one checkpoint whose action renders the data docs site into the report folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from biomoe.errors import BiomoeError, DataError
from biomoe.io import atomic_dir, sha256_file
from biomoe.validation.params import ValidateParams
from biomoe.validation.report import Failure, RuleResult, ValidationReport, write_summary
from biomoe.validation.rules import Check, Rule, build_rules
from biomoe.validation.stats import ROW, window_stats

SUMMARY_NAME = "summary.json"
DOCS_NAME = "data_docs"
_SITE = "biomoe_validation"


def validate_windows(
    windows_path: Path, report_dir: Path, params: ValidateParams, fs: int
) -> ValidationReport:
    """Check the windows table (sampled at ``fs`` Hz) against every rule; write
    ``summary.json`` and the data docs.

    The table is only read. Both outputs are replaced atomically, and the report is returned
    whether or not the table passed: call :func:`require_valid` to turn failure into an error.
    """
    windows_path = Path(windows_path)
    report_dir = Path(report_dir)
    frame = window_stats(_read_table(windows_path))
    rules = build_rules(params, fs)
    runnable = [(r, c) for r in rules for c in r.checks if set(c.requires) <= set(frame.columns)]

    with atomic_dir(report_dir / DOCS_NAME) as docs_tmp:
        results = _run_checkpoint(frame, runnable, docs_tmp)
        if not (docs_tmp / "index.html").is_file():
            # GX logs and swallows rendering errors; a missing site must not pass unnoticed.
            raise BiomoeError("Great Expectations did not render the data docs (see its log)")

    report = ValidationReport(
        windows_file=str(windows_path),
        windows_sha256=sha256_file(windows_path),
        n_windows=len(frame),
        rules=tuple(
            _rule_result(rule, results, frame, params.max_failures_listed) for rule in rules
        ),
        data_docs=f"{DOCS_NAME}/index.html",
        report_dir=str(report_dir),
    )
    write_summary(report, report_dir / SUMMARY_NAME)
    return report


def _read_table(path: Path) -> pa.Table:
    if not path.is_file():
        raise DataError(
            "the windows table does not exist", file=path, hint="run `biomoe ingest` first"
        )
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"the windows table is not a readable parquet file: {exc}",
            file=path,
            hint="re-run `biomoe ingest`",
        ) from exc


def _run_checkpoint(
    frame: pd.DataFrame, checks: Sequence[tuple[Rule, Check]], docs_dir: Path
) -> dict[Check, ExpectationValidationResult]:
    """Validate ``frame``; returns the GX result of each check."""
    context = gx.get_context(mode="ephemeral", project_config=_context_config(docs_dir))
    batch = (
        context.data_sources.add_pandas("windows")
        .add_dataframe_asset("window_stats")
        .add_batch_definition_whole_dataframe("all_windows")
    )
    expectations = [
        check.expectation.copy(update={"notes": f"{rule.name}: {rule.text}"}, deep=True)
        for rule, check in checks
    ]
    # One suite built whole: adding expectations one by one re-serialises the suite each time.
    suite = context.suites.add(gx.ExpectationSuite(name="windows", expectations=expectations))
    check_of_expectation = {
        str(e.id): check for e, (_, check) in zip(suite.expectations, checks, strict=True)
    }
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="windows", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name="validate_windows",
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[_SITE])],
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": [ROW, *(c for c in ("window_id",) if c in frame)],
            },
        )
    )
    outcome = checkpoint.run(
        batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name="validate_windows")
    )
    (suite_result,) = outcome.run_results.values()
    return {check_of_expectation[str(r.expectation_config.id)]: r for r in suite_result.results}


def _context_config(docs_dir: Path) -> DataContextConfig:
    return DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            _SITE: {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir.resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )


def _rule_result(
    rule: Rule,
    results: Mapping[Check, ExpectationValidationResult],
    frame: pd.DataFrame,
    max_listed: int,
) -> RuleResult:
    missing = sorted({c for check in rule.checks for c in check.requires} - set(frame.columns))
    found: list[tuple[int, int, Failure]] = []
    for order, check in enumerate(rule.checks):
        result = results.get(check)
        if result is not None and not result.success:
            found.extend((row, order, f) for row, f in _failures(rule, check, result, frame))
    found.sort(key=lambda item: (item[0], item[1]))
    failures = tuple(f for _, _, f in found)
    if failures:
        status = "failed"
    elif missing:
        status = "skipped"
    else:
        status = "passed"
    return RuleResult(
        name=rule.name,
        text=rule.text,
        status=status,
        n_failed=len(failures),
        failures=failures[:max_listed],
        skipped_because=f"missing columns {', '.join(missing)}" if missing else None,
    )


def _failures(
    rule: Rule, check: Check, result: ExpectationValidationResult, frame: pd.DataFrame
) -> list[tuple[int, Failure]]:
    """Failing windows of one check, each with its row position (-1: the whole table)."""
    error = _exception_message(result.exception_info or {})
    if error is not None:
        return [(-1, Failure(rule.name, rule.text, f"error: {error}"))]
    indices = result.result.get("unexpected_index_list") or []
    if not indices:
        return [(-1, Failure(rule.name, rule.text, check.observed(result.result)))]
    rows = sorted(int(item[ROW]) for item in indices)
    records = frame.iloc[rows].to_dict("records")
    return [
        (
            row,
            Failure(
                rule=rule.name,
                text=rule.text,
                observed=check.observed(record),
                window_id=_text(record.get("window_id")),
                source_file=_text(record.get("source_file")),
                segment=_text(record.get("segment")),
                modality=_text(record.get("modality")),
            ),
        )
        for row, record in zip(rows, records, strict=True)
    ]


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def _exception_message(info: Mapping[str, Any]) -> str | None:
    """The first error GX caught while checking; ``info`` is flat or keyed by metric."""
    infos = [info, *(v for v in info.values() if isinstance(v, Mapping))]
    for item in infos:
        if item.get("raised_exception"):
            return str(item.get("exception_message", "Great Expectations raised an exception"))
    return None
