"""A fresh clone without a DVC remote rebuilds data/raw exactly as data.dvc records it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    for name in ("data.dvc", "params.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for command in (["dvc", "init", "-q"], ["biomoe", "demo-data"]):
        subprocess.run([str(BIN / command[0]), *command[1:]], cwd=tmp_path, check=True)
    return tmp_path


def _verify(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "biomoe"), "verify-data"], cwd=root, capture_output=True, text=True
    )


def test_generated_demo_data_matches_data_dvc(workspace: Path) -> None:
    result = _verify(workspace)
    assert result.returncode == 0, (
        "biomoe demo-data no longer reproduces data.dvc; if the change is intended, "
        f"run `dvc add data/raw` and move data/raw.dvc to data.dvc\n{result.stderr}"
    )


def test_changed_data_is_refused_and_data_dvc_kept(workspace: Path) -> None:
    recorded = (workspace / "data.dvc").read_bytes()
    with open(workspace / "data/raw/train/Eda/S001.csv", "a") as handle:
        handle.write("1.0\n")
    result = _verify(workspace)
    assert result.returncode == 1
    assert "data.dvc records" in result.stderr
    assert (workspace / "data.dvc").read_bytes() == recorded
