"""The whole pipeline at a tiny size, through both doors: ``dvc repro`` and the Prefect flow.

Both workspaces start from the same tiny params and regenerated demo data; the flow runs where
``dvc repro``'s lock is committed (a fresh clone): the artifacts each door writes and the lock
must be byte-identical, a second run of either door must do nothing, and the registered
champion must load from MLflow and predict on a validation window.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from tests.conftest import add_subject

from biomoe.config import Params
from biomoe.data.tracked import recorded_md5
from biomoe.io import sha256_file
from biomoe.registry.params import PromotionParams
from biomoe.serve.rescore import rescorer
from biomoe.stages import PIPELINE

Project = Callable[[Path, Params], Path]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow

COMPARED = (
    "data/interim/windows.parquet",
    "data/images/index.parquet",
    "models/backbone/model.pth",
    "models/backbone/model.json",
    "data/embeddings/embeddings.parquet",
    "models/classifier/head.pt",
    "models/classifier/classifier.json",
    "metrics/classifier.json",
    "metrics/evaluation.json",
    "reports/evaluation.md",
    "data/baselines/random_backbone.pth",
)


def _sh(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        # each workspace's Prefect (its ephemeral server's sqlite db) of its own: two runs on one
        # machine sharing ~/.prefect lock each other's database. A new db is migrated when the
        # server starts, which on a loaded 2-core machine outlasts the default 20 s wait.
        "PREFECT_HOME": str(cwd / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="module")
def dvc_workspace(reproduced_project: Path) -> Path:
    """The ``dvc repro`` door: the session's reproduced tiny project (copy before changing)."""
    return reproduced_project


@pytest.fixture(scope="module")
def flow_workspace(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_params: Params,
    pipeline_project: Project,
    dvc_workspace: Path,
) -> Path:
    """The Prefect door on what a fresh clone of a project with a committed ``dvc.lock`` holds
    (the lock ``dvc repro`` wrote, no outputs); its image and embedding shards on a 2-worker
    Dask LocalCluster. Every stage runs, register too though none of its deps changed."""
    on_dask = tiny_params.scaleout.model_copy(update={"runner": "dask"})
    params = tiny_params.model_copy(update={"scaleout": on_dask})
    root = pipeline_project(tmp_path_factory.mktemp("e2e") / "flow", params)
    shutil.copy(dvc_workspace / "dvc.lock", root / "dvc.lock")
    output = _flow(root)
    assert all(f"{stage}: ran" in output for stage in PIPELINE), output
    return root


def _flow(root: Path) -> str:
    """One run of the Prefect flow on ``root``; its output."""
    result = _sh([sys.executable, "flows/retrain.py", "--root", str(root)], root)
    return result.stdout + result.stderr


def _versions(root: Path) -> list[str]:
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    return sorted(str(v.version) for v in client.search_model_versions("name = 'pain-classifier'"))


def test_second_dvc_repro_is_a_no_op(dvc_workspace: Path) -> None:
    status = _sh(["dvc", "status", "--json"], dvc_workspace)
    assert json.loads(status.stdout) == {}
    again = _sh(["dvc", "repro"], dvc_workspace)
    assert "Running stage" not in again.stdout


def test_prefect_flow_and_dvc_write_identical_artifacts(
    dvc_workspace: Path, flow_workspace: Path
) -> None:
    """The flow, run where the lock of ``dvc repro`` was already committed, reproduces every
    artifact and leaves the lock byte-identical; it registered its own champion."""
    for relative in COMPARED:
        assert sha256_file(dvc_workspace / relative) == sha256_file(flow_workspace / relative), (
            relative
        )
    assert (flow_workspace / "dvc.lock").read_bytes() == (dvc_workspace / "dvc.lock").read_bytes()
    assert json.loads(_sh(["dvc", "status", "--json"], flow_workspace).stdout) == {}
    assert json.loads((flow_workspace / "reports/registry.json").read_text())["alias"] == "champion"
    metrics = json.loads((dvc_workspace / "metrics/classifier.json").read_text())
    assert set(metrics) == {"train", "validation"}
    assert {"accuracy", "macro_f1", "f1_No", "f1_Low", "f1_High"} <= set(metrics["validation"])
    assert (dvc_workspace / "plots/confusion_matrix.png").stat().st_size > 1000


def _last_stage_metrics(root: Path, stage: str) -> dict[str, float]:
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("biomoe")
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`biomoe.stage` = '{stage}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].data.metrics


def _assert_only_the_new_subject_was_computed(root: Path, params: Params) -> None:
    """The last images and embed runs rendered and embedded S900's windows only."""
    windows = pd.read_parquet(root / "data/interim/windows.parquet", columns=["subject"])
    new = int((windows["subject"] == "S900").sum())
    reps = len(params.images.representations)
    shards_per_rep = -(-new // params.images.shard_size)
    assert _last_stage_metrics(root, "images")["shards_rendered"] == reps * shards_per_rep
    assert _last_stage_metrics(root, "embed")["computed"] == reps * new


def test_a_new_subject_recomputes_only_its_images_and_embeddings(
    dvc_workspace: Path, tmp_path: Path, tiny_params: Params
) -> None:
    root = tmp_path / "grown"
    shutil.copytree(dvc_workspace, root, symlinks=True)
    kept = {p: p.stat().st_mtime_ns for p in (root / "data/images").rglob("shard-*.npy")}
    add_subject(root, tiny_params)

    result = _sh(["dvc", "repro"], root)
    assert "Running stage 'pretrain'" not in result.stdout
    _assert_only_the_new_subject_was_computed(root, tiny_params)
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items()), "old shards untouched"
    again = _sh(["dvc", "repro"], root)
    assert "Running stage" not in again.stdout


def test_a_second_flow_run_runs_nothing_and_registers_no_version(
    flow_workspace: Path, tmp_path: Path
) -> None:
    root = tmp_path / "again"
    shutil.copytree(flow_workspace, root, symlinks=True)
    lock, versions = (root / "dvc.lock").read_bytes(), _versions(root)
    output = _flow(root)
    assert all(f"{stage}: skipped" in output for stage in PIPELINE), output
    assert (root / "dvc.lock").read_bytes() == lock
    assert _versions(root) == versions
    assert "Running stage" not in _sh(["dvc", "repro"], root).stdout


def test_a_new_subject_through_the_flow_reruns_what_dvc_would(
    flow_workspace: Path, tmp_path: Path, tiny_params: Params
) -> None:
    """One new subject: the flow re-runs the stages ``dvc repro`` would (not corpus or pretrain),
    renders and embeds only that subject, versions the new data in data.dvc and on the remote,
    registers one version tagged with it, and leaves nothing for ``dvc repro`` to do; either
    version's data is restored from the remote by its tag."""
    root = tmp_path / "grown-flow"
    shutil.copytree(flow_workspace, root, symlinks=True)
    versions = _versions(root)
    old_data = recorded_md5(root / "data.dvc")
    add_subject(root, tiny_params)
    output = _flow(root)
    for stage in PIPELINE:
        expected = "skipped" if stage in {"corpus", "pretrain"} else "ran"
        assert f"{stage}: {expected}" in output, (stage, output)
    _assert_only_the_new_subject_was_computed(root, tiny_params)
    [new_version] = sorted(set(_versions(root)) - set(versions))
    assert json.loads(_sh(["dvc", "status", "--json"], root).stdout) == {}

    new_data = recorded_md5(root / "data.dvc")
    assert new_data != old_data
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    assert client.get_model_version("pain-classifier", new_version).tags["dvc_data_md5"] == new_data
    shutil.rmtree(root / ".dvc" / "cache")  # restored from the remote alone
    subject = root / "data/raw/train" / tiny_params.ingest.modalities[0] / "S900.csv"
    for version, md5, has_subject in (
        (versions[-1], old_data, False),
        (new_version, new_data, True),
    ):
        _sh(["biomoe", "restore-data", version], root)
        assert recorded_md5(root / "data.dvc") == md5
        assert subject.is_file() == has_subject
        assert json.loads(_sh(["dvc", "status", "--json", "data.dvc"], root).stdout) == {}


def _commit(root: Path, message: str) -> None:
    _sh(["git", "add", "dvc.lock"], root)
    _sh(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", message], root)


def test_verify_names_the_first_stage_that_diverged(dvc_workspace: Path, tmp_path: Path) -> None:
    root = tmp_path / "verify"
    shutil.copytree(dvc_workspace, root, symlinks=True)
    produced = (root / "dvc.lock").read_text()
    _commit(root, "the reference")
    assert "identical" in _sh(["biomoe", "verify"], root).stderr
    reference = yaml.safe_load(produced)
    [images] = [o for o in reference["stages"]["images"]["outs"] if o["path"] == "data/images"]
    images["md5"] = "0" * 32 + ".dir"  # what another machine's images stage would have recorded
    (root / "dvc.lock").write_text(yaml.safe_dump(reference, sort_keys=False))
    _commit(root, "a reference from a machine whose images differ")
    (root / "dvc.lock").write_text(produced)
    result = _sh(["biomoe", "verify"], root, check=False)
    assert result.returncode == 1
    assert "first divergence at stage images: this machine computed it differently" in (
        result.stderr
    )


def test_champion_loads_and_predicts_on_a_validation_window(dvc_workspace: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{dvc_workspace / 'mlflow' / 'mlflow.db'}")
    receipt = json.loads((dvc_workspace / "reports/registry.json").read_text())
    assert receipt["alias"] == "champion"
    model = mlflow.pyfunc.load_model("models:/pain-classifier@champion")
    windows = pd.read_parquet(dvc_workspace / "data/interim/windows.parquet")
    sample = windows[windows["split"] == "validation"]["sample_id"].iloc[0]
    rows = windows[windows["sample_id"] == sample].set_index("modality")["signal"]
    frame = pd.DataFrame([{m: np.asarray(rows[m], dtype=np.float64) for m in rows.index}])
    probabilities = model.predict(frame)
    assert list(probabilities.columns) == ["No", "Low", "High"]
    assert probabilities.shape == (1, 3)
    np.testing.assert_allclose(probabilities.to_numpy().sum(axis=1), 1.0, rtol=1e-5)
    tags = mlflow.MlflowClient().get_model_version("pain-classifier", receipt["version"]).tags
    provenance = {"git_commit", "dvc_data_md5", "params_sha256", "data_sha256", "backbone_sha256"}
    metrics = {"val_macro_f1", "val_accuracy", "val_f1_No", "eval_kfold_macro_f1"}
    assert provenance | metrics | {"validation_data_sha256", "promotion"} <= set(tags)
    validation = json.loads((dvc_workspace / "metrics/classifier.json").read_text())["validation"]
    assert float(tags["val_macro_f1"]) == validation["macro_f1"]
    # re-scoring a champion end to end (raw windows -> pyfunc) gives the train stage's score
    rescore = rescorer("pain-classifier", windows, PromotionParams(metric="macro_f1", margin=0))
    assert rescore(receipt["version"]) == validation["macro_f1"]


def test_corrupted_input_stops_the_run_and_keeps_earlier_outputs(
    dvc_workspace: Path, tmp_path: Path
) -> None:
    root = tmp_path / "corrupt"
    shutil.copytree(dvc_workspace, root, symlinks=True)
    spo2 = sorted((root / "data/raw/train/SpO2").glob("*.csv"))[0]
    frame = pd.read_csv(spo2)
    column = frame.columns[1]
    frame.loc[5:50, column] = 12.0
    frame.to_csv(spo2, index=False)
    before = {
        p: sha256_file(root / p) for p in ("data/images/index.parquet", "metrics/classifier.json")
    }
    result = _sh(["dvc", "repro"], root, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert spo2.name in output and column in output
    assert "SpO2" in output
    for relative, digest in before.items():
        assert sha256_file(root / relative) == digest, relative


def test_prefect_flow_stops_at_validation_on_bad_data(
    tmp_path: Path, tiny_params: Params, pipeline_project: Project
) -> None:
    root = pipeline_project(tmp_path / "flow-bad", tiny_params)
    recorded = recorded_md5(root / "data.dvc")
    eda = sorted((root / "data/raw/validation/Eda").glob("*.csv"))[0]
    frame = pd.read_csv(eda)
    column = frame.columns[0]
    frame[column] = -frame[column].abs() - 1.0
    frame.to_csv(eda, index=False)
    result = _sh([sys.executable, "flows/retrain.py", "--root", str(root)], root, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert eda.name in output and column in output and "Eda" in output
    assert (root / "reports/validation/summary.json").is_file()
    assert recorded_md5(root / "data.dvc") == recorded, "data that failed is not versioned"
    assert not (root / "data/images").exists()
    assert not (root / "models").exists()
