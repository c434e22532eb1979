"""Scheduled retraining against a real ``prefect server`` on localhost.

The serve script registers the deployment with the cron and time zone from params; a triggered
run retrains a tiny project whose training params changed (the session's reproduced project,
copied) without a hand touching it, publishes the markdown artifact and registers a model in the
project's MLflow store; a second run with nothing new runs no stage, registers no version and
says so in its artifact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from mlflow import MlflowClient
from tests.conftest import copy_project, write_params
from tests.integration.conftest import free_port, stop_process_group

from biomoe.config import Params
from biomoe.reporting import flatten, format_value
from biomoe.stages import PIPELINE

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEPLOYMENT = "biomoe-scheduled-retrain/{name}"
CRON, TIMEZONE = "17 4 * * 1", "Europe/Athens"
T = TypeVar("T")

pytestmark = pytest.mark.slow


def _start(args: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """In a session of its own, so that teardown stops its children too."""
    return subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _until(
    what: str,
    check: Callable[[], T | None],
    timeout: float,
    process: subprocess.Popen[bytes],
    log: Path,
) -> T:
    """Poll ``check`` until it returns something truthy; fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen:\n{log.read_text()[-5000:]}")
        time.sleep(1)


@pytest.fixture(scope="module")
def prefect_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real ``prefect server`` (sqlite, loopback); the environment its clients need."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    log = home / "server.log"
    command = [str(BIN / "prefect"), "server", "start", "--no-ui", "--host", "127.0.0.1"]
    server = _start(
        [*command, "--port", str(port)],
        log,
        env,
        home,
    )

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{env['PREFECT_API_URL']}/health", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    try:
        _until("prefect server start", healthy, 120, server, log)
        yield env
    finally:
        stop_process_group(server)


@pytest.fixture(scope="module")
def workspace(
    tmp_path_factory: pytest.TempPathFactory, tiny_params: Params, reproduced_project: Path
) -> tuple[Path, Params]:
    """The reproduced tiny project with a new training seed, on a schedule of its own (so the
    test sees it come from params)."""
    schedule = tiny_params.schedule.model_copy(update={"cron": CRON, "timezone": TIMEZONE})
    train = tiny_params.train.model_copy(update={"seed": tiny_params.train.seed + 1})
    params = tiny_params.model_copy(update={"schedule": schedule, "train": train})
    root = copy_project(reproduced_project, tmp_path_factory.mktemp("scheduled") / "project")
    write_params(root, params)
    return root, params


def test_a_served_deployment_retrains_on_trigger_and_reports(
    prefect_env: dict[str, str], workspace: tuple[Path, Params]
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.objects import State
    from prefect.client.schemas.responses import DeploymentResponse
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    root, params = workspace
    log = root / "serve.log"
    serve = _start(
        [sys.executable, str(REPO / "flows" / "deploy.py"), "serve", "--root", str(root)],
        log,
        prefect_env,
        root,
    )
    name = DEPLOYMENT.format(name=params.schedule.deployment)
    try:
        with (
            temporary_settings(updates={PREFECT_API_URL: prefect_env["PREFECT_API_URL"]}),
            get_client(sync_client=True) as client,
        ):

            def registered() -> DeploymentResponse | None:
                try:
                    return client.read_deployment_by_name(name)
                except ObjectNotFound:
                    return None

            deployment = _until("registering the deployment", registered, 120, serve, log)
            [schedule] = deployment.schedules
            assert (schedule.schedule.cron, schedule.schedule.timezone) == (CRON, TIMEZONE)
            assert schedule.active
            assert deployment.parameters["root"] == str(root.resolve())

            def triggered() -> tuple[State, str]:
                """One run of the deployment; its final state and its artifact's markdown."""
                run = run_deployment(name, timeout=0)

                def finished() -> State | None:
                    state = client.read_flow_run(run.id).state
                    return state if state is not None and state.is_final() else None

                state = _until("the triggered run", finished, 300, serve, log)
                assert state.is_completed(), f"{state}\n{log.read_text()[-5000:]}"
                by_key = ArtifactFilterKey(any_=[params.schedule.artifact_key])
                artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=by_key))
                [artifact] = [
                    a
                    for a in artifacts
                    if client.read_task_run(
                        client.read_flow_run(a.flow_run_id).parent_task_run_id
                    ).flow_run_id
                    == run.id
                ]
                assert artifact.type == "markdown"
                return state, str(artifact.data)

            before = _versions(root, params.register.model_name)
            _, report = triggered()
            lock = (root / "dvc.lock").read_bytes()
            versions = _versions(root, params.register.model_name)
            _, second_report = triggered()
    finally:
        stop_process_group(serve)

    receipt = json.loads((root / "reports" / "registry.json").read_text())
    metrics = json.loads((root / "metrics" / "classifier.json").read_text())
    model = params.register.model_name
    assert f"`{model}` version {receipt['version']}" in report
    assert f"models:/{model}/{receipt['version']}" in report
    for key, value in flatten(metrics).items():
        assert f"| {key} | {format_value(value)} |" in report
    assert "validation.macro_f1" in report
    assert "| train | ran: " in report
    assert "| embed | skipped: unchanged |" in report
    run = json.loads((root / "reports" / "registry_run.json").read_text())
    assert f"#/experiments/{run['experiment_id']}/runs/{run['run_id']})" in report
    assert versions == [*before, receipt["version"]]

    assert second_report.startswith(
        f"# Nothing changed since `{model}` version {receipt['version']}"
    ), second_report[:300]
    for stage in PIPELINE:
        assert f"| {stage} | skipped: unchanged |" in second_report
    assert (root / "dvc.lock").read_bytes() == lock
    assert _versions(root, model) == versions


def _versions(root: Path, model: str) -> list[str]:
    mlflow = MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    return sorted(str(v.version) for v in mlflow.search_model_versions(f"name = '{model}'"))
