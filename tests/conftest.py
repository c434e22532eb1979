"""Shared fixtures: the project's params, a tiny variant for fast tests, and tiny projects
(fresh, or after ``dvc repro``) with the helpers that change them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from biomoe.config import Params, load_params
from biomoe.numerics import configured, enter, is_pinned

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """The suite runs under the numerics params.yaml asks for, as every pipeline door does:
    pytest re-starts itself under them (its output capture undone first, so the new process
    writes to the terminal)."""
    numerics = configured(REPO_ROOT / "params.yaml")
    if is_pinned(numerics):
        return
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()
    enter(numerics)


def tiny(params: Params) -> Params:
    """The same pipeline at a size that runs in seconds on a 2-core CPU."""
    data = params.model_dump()
    data["demo"].update(subjects={"train": 4, "validation": 2, "test": 1}, n_low=2, n_high=2)
    data["images"].update(size=32, shard_size=16, gallery_per_representation=4)
    data["pretrain"].update(batch_size=8, checkpoint_every=2, log_every=1)
    data["pretrain"]["recipes"]["quick"].update(epochs=1, warmup_steps=2)
    data["corpus"]["simulated"].update(windows_per_signal=4)
    data["corpus"]["packaged"].update(max_windows_per_dataset=4)
    data["train"]["mlp"].update(max_epochs=20, patience=5)
    data["evaluate"]["minirocket"].update(num_kernels=840)
    data["evaluate"].update(
        folds=3, bootstrap={"resamples": 100, "confidence": 0.95, "unit": "subject"}
    )
    return Params.model_validate(data)


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(REPO_ROOT / "params.yaml")


@pytest.fixture(scope="session")
def tiny_params(params: Params) -> Params:
    return tiny(params)


@pytest.fixture(scope="session")
def demo_raw(tmp_path_factory: pytest.TempPathFactory, tiny_params: Params) -> Path:
    """The tiny demo dataset, generated once per session. Read only: copy it before corrupting."""
    from biomoe.data.demo import generate_demo_dataset

    out = tmp_path_factory.mktemp("demo") / "raw"
    generate_demo_dataset(out, tiny_params.demo, tiny_params.ingest.fs)
    return out


@pytest.fixture(scope="session")
def pipeline_project(demo_raw: Path) -> Callable[[Path, Params], Path]:
    """Makes a fresh project at a path: the repo's pipeline definition, lock and sources, the given
    params, the tiny demo data tracked by ``data.dvc``, as git and DVC repositories with a
    default DVC remote (a folder beside the project): what a clone holds."""

    def make(path: Path, params: Params) -> Path:
        path.mkdir(parents=True)
        for name in ("dvc.yaml", ".dvcignore", "requirements.lock"):
            shutil.copy(REPO_ROOT / name, path / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
        for name in ("src", "flows"):
            shutil.copytree(REPO_ROOT / name, path / name, ignore=ignore)
        write_params(path, params)
        shutil.copytree(demo_raw, path / "data" / "raw")
        dvc = str(Path(sys.executable).parent / "dvc")
        remote = path.parent / f"{path.name}-dvc-remote"
        for command in (
            ["git", "init", "-q"],
            [dvc, "init", "-q"],
            [dvc, "remote", "add", "-d", "store", str(remote)],
            [dvc, "add", "-q", "data/raw"],
        ):
            subprocess.run(command, cwd=path, check=True, capture_output=True)
        record = yaml.safe_load((path / "data" / "raw.dvc").read_text())
        record["outs"][0]["path"] = "data/raw"
        (path / "data.dvc").write_text(yaml.safe_dump(record, sort_keys=False))
        (path / "data" / "raw.dvc").unlink()
        return path

    return make


@pytest.fixture(scope="session")
def reproduced_project(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_params: Params,
    pipeline_project: Callable[[Path, Params], Path],
) -> Path:
    """A tiny project after ``dvc repro``: every stage recorded, version 1 of the classifier
    registered in its own MLflow store. Shared by the session: copy it (``copy_project``)
    before changing anything in it."""
    root = pipeline_project(tmp_path_factory.mktemp("reproduced") / "project", tiny_params)
    dvc = str(Path(sys.executable).parent / "dvc")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run([dvc, "repro"], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"dvc repro failed:\n{result.stdout}\n{result.stderr}"
    return root


def copy_project(source: Path, target: Path) -> Path:
    """A copy of a project (its links kept, as DVC's cache links them) to change freely."""
    shutil.copytree(source, target, symlinks=True)
    return target


def add_subject(root: Path, params: Params) -> None:
    """A new training subject S900: a rescaled copy of the first one (keeps every range rule)."""
    rng = np.random.default_rng(7)
    for modality in params.ingest.modalities:
        source = sorted((root / "data/raw/train" / modality).glob("*.csv"))[0]
        frame = pd.read_csv(source)
        frame = frame * rng.uniform(0.9, 1.0, size=frame.shape)
        frame.to_csv(source.with_name("S900.csv"), index=False)


def write_params(root: Path, params: Params) -> None:
    """``params`` as the project's params.yaml."""
    (root / "params.yaml").write_text(
        yaml.safe_dump(params.model_dump(by_alias=True, mode="json"), sort_keys=False)
    )
