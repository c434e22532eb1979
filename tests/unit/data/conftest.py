"""Fixtures for the data package: a tiny demo dataset and hand-written raw files."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from biomoe.config import Params
from biomoe.data.demo import DemoSummary, generate_demo_dataset
from biomoe.data.params import MODALITIES, SPLITS

Column = tuple[str, Sequence[float | str | None]]


@pytest.fixture(scope="session")
def demo_summary(demo_raw: Path, tiny_params: Params) -> DemoSummary:
    again = demo_raw.parent / "raw-again"
    return generate_demo_dataset(again, tiny_params.demo, tiny_params.ingest.fs)


@pytest.fixture
def raw_copy(demo_raw: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny demo dataset that a test may break."""
    copy = tmp_path / "raw"
    shutil.copytree(demo_raw, copy)
    return copy


def csv_text(columns: Sequence[Column]) -> str:
    """A CSV in the AI4PAIN style: one column per segment, shorter ones padded with empty cells."""
    rows = max(len(values) for _, values in columns)
    lines = [",".join(name for name, _ in columns)]
    for i in range(rows):
        cells = []
        for _, values in columns:
            cell = values[i] if i < len(values) else None
            cells.append("" if cell is None else str(cell))
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_subject() -> Callable[..., dict[str, Path]]:
    """Write one subject's files (same columns for every modality unless overridden)."""

    def write(
        raw: Path,
        split: str,
        subject: str,
        columns: Sequence[Column],
        modalities: Sequence[str] = MODALITIES,
    ) -> dict[str, Path]:
        paths = {}
        for modality in modalities:
            path = raw / split / modality / f"{subject}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(csv_text(columns))
            paths[modality] = path
        return paths

    return write


@pytest.fixture
def empty_layout(tmp_path: Path) -> Path:
    """``raw/{split}/{modality}/`` folders with no files in them."""
    raw = tmp_path / "raw"
    for split in SPLITS:
        for modality in MODALITIES:
            (raw / split / modality).mkdir(parents=True)
    return raw
