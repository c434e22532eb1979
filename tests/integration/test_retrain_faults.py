"""Unattended runs survive faults, with real services on localhost.

Both start from the session's reproduced tiny project (``dvc repro`` done), changed the way a
night's retraining finds it:

- a new pretraining seed; two runs of the flow triggered together: the second waits for the
  project lock; the first is killed (SIGKILL, its whole process group) in the middle of the
  embed stage. The second then finishes the work: the stages the first recorded are skipped,
  the rest run, one model version is registered, and ``dvc repro`` finds nothing to do.
- a new training seed; the MLflow server stopped while the run is going and started again: the
  stages that could not reach it are retried with back-off and the run completes, doing what
  ``dvc repro`` would (train, evaluate, register), one version on the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient
from tests.conftest import copy_project, write_params
from tests.integration.conftest import free_port, start_mlflow_server, stop_process_group

from biomoe.config import Params
from biomoe.embed.extract import CACHE_DIR
from biomoe.flows.faults import LOCK_FILE
from biomoe.stages import PIPELINE

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _env(prefect_home: Path) -> dict[str, str]:
    """Each flow process its own ephemeral Prefect API (two sharing one sqlite db lock it)."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        # fail fast on an unreachable server, so that the flow's own back-off is what retries
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _start_flow(root: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "flows/retrain.py", "--root", str(root), *extra],
        cwd=root,
        env=_env(log.with_suffix(".prefect")),
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _until(what: str, check: Callable[[], bool], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen:\n{log.read_text()[-5000:]}")
        time.sleep(0.2)


def _finish(process: subprocess.Popen[bytes], log: Path, timeout: float = 900) -> str:
    try:
        code = process.wait(timeout=timeout)
    finally:
        stop_process_group(process)
    output = log.read_text()
    assert code == 0, output[-8000:]
    return output


def _dvc_status(root: Path) -> dict[str, object]:
    result = subprocess.run(
        [str(BIN / "dvc"), "status", "--json"], cwd=root, capture_output=True, text=True
    )
    return json.loads(result.stdout)


def _versions(client: MlflowClient) -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions("name = 'pain-classifier'"))


def test_two_runs_together_one_killed_mid_embed_the_other_finishes_the_work(
    tmp_path: Path, tiny_params: Params, reproduced_project: Path
) -> None:
    root = copy_project(reproduced_project, tmp_path / "project")
    pretrain = tiny_params.pretrain.model_copy(update={"seed": tiny_params.pretrain.seed + 1})
    write_params(root, tiny_params.model_copy(update={"pretrain": pretrain}))
    client = MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    versions = _versions(client)
    cache = root / "data" / "embeddings" / CACHE_DIR
    old_backbones = set(cache.iterdir())
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _start_flow(root, first_log)
    lock = root / LOCK_FILE
    _until(
        "the first run taking the lock",
        lambda: lock.is_file() and f"pid {first.pid} " in lock.read_text(),
        300,
        first_log,
    )
    second = _start_flow(root, second_log)
    try:
        _until(
            "the second run waiting",
            lambda: "waiting for the retrain run" in second_log.read_text(),
            300,
            second_log,
        )
        _until(
            "the first run embedding with its new backbone",
            lambda: bool(set(cache.iterdir()) - old_backbones),
            900,
            first_log,
        )
        os.killpg(first.pid, 9)
        first.wait(timeout=30)
        output = _finish(second, second_log)
    finally:
        stop_process_group(first)
        stop_process_group(second)
    assert "embed: ran" not in first_log.read_text(), "killed before embed was recorded"
    assert "pretrain: ran" in first_log.read_text()
    for stage in ("ingest", "validate", "images", "corpus", "pretrain"):
        assert f"{stage}: skipped" in output, (stage, output[-5000:])
    for stage in ("embed", "train", "evaluate", "register"):
        assert f"{stage}: ran" in output, (stage, output[-5000:])
    assert len(_versions(client)) == len(versions) + 1
    assert _dvc_status(root) == {}


def test_the_mlflow_server_stopped_mid_run_is_waited_out(
    tmp_path: Path, tiny_params: Params, reproduced_project: Path
) -> None:
    root = copy_project(reproduced_project, tmp_path / "project")
    schedule = tiny_params.schedule.model_copy(update={"retries": 6, "retry_delay_s": 3.0})
    train = tiny_params.train.model_copy(update={"seed": tiny_params.train.seed + 1})
    write_params(root, tiny_params.model_copy(update={"schedule": schedule, "train": train}))
    store = tmp_path / "mlflow-server"
    store.mkdir()
    port = free_port()
    server = start_mlflow_server(store, port)
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "flow.log"
    flow = _start_flow(root, log, "--tracking-uri", url)
    try:
        _until("the stages before train", lambda: "embed: skipped" in log.read_text(), 600, log)
        stop_process_group(server)
        _until("a transient failure", lambda: "transient failure" in log.read_text(), 600, log)
        time.sleep(5)
        server = start_mlflow_server(store, port)
        output = _finish(flow, log)
        versions = _versions(MlflowClient(url))
    finally:
        stop_process_group(flow)
        stop_process_group(server)
    for stage in PIPELINE:
        expected = "ran" if stage in {"train", "evaluate", "register"} else "skipped"
        assert f"{stage}: {expected}" in output, (stage, output[-5000:])
    assert versions == ["1"]
    assert _dvc_status(root) == {}
