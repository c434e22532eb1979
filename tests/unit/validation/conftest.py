"""Fixtures: the tiny demo dataset generated once per session, and ways to break copies of it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from biomoe.config import Params
from biomoe.data.ai4pain import ingest
from biomoe.validation.params import ValidateParams
from biomoe.validation.report import ValidationReport
from biomoe.validation.runner import validate_windows

Validate = Callable[..., ValidationReport]


@pytest.fixture(scope="session")
def clean_windows(demo_raw: Path, tiny_params: Params) -> Path:
    """The windows table ingested from the untouched demo. Read only."""
    path = demo_raw.parent / "windows.parquet"
    ingest(demo_raw, path, tiny_params.ingest)
    return path


@pytest.fixture
def validate(tmp_path: Path, tiny_params: Params) -> Validate:
    """Validate a windows table into ``tmp_path/report`` (or ``report_dir``)."""

    def run(
        windows: Path, params: ValidateParams | None = None, report_dir: Path | None = None
    ) -> ValidationReport:
        return validate_windows(
            windows,
            report_dir or tmp_path / "report",
            params or tiny_params.validate,
            tiny_params.ingest.fs,
        )

    return run


@pytest.fixture
def raw_copy(tmp_path: Path, demo_raw: Path) -> Path:
    """A private copy of the demo raw layout, free to corrupt."""
    return Path(shutil.copytree(demo_raw, tmp_path / "raw"))


@pytest.fixture
def ingest_copy(tmp_path: Path, raw_copy: Path, tiny_params: Params) -> Callable[[], Path]:
    """Ingest ``raw_copy`` (after the test corrupted it) into a windows table."""

    def run() -> Path:
        path = tmp_path / "windows.parquet"
        ingest(raw_copy, path, tiny_params.ingest)
        return path

    return run


@pytest.fixture
def table_copy(
    tmp_path: Path, clean_windows: Path
) -> Callable[[Callable[[pa.Table], pa.Table]], Path]:
    """Write a changed copy of the clean windows table (``change`` maps arrow table to table)."""

    def run(change: Callable[[pa.Table], pa.Table]) -> Path:
        path = tmp_path / "changed.parquet"
        pq.write_table(change(pq.read_table(clean_windows)), path)
        return path

    return run
