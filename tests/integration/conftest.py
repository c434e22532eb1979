"""Real services on localhost for integration tests: an ``mlflow server``, and the tiny
pipeline's champion behind ``mlflow models serve``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml

from biomoe.config import Params
from biomoe.model.checkpoint import save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.paths import ProjectPaths
from biomoe.stages import stage

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVED_NAME = "pain-classifier-serving"
SERVED_URI = f"models:/{SERVED_NAME}@champion"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mlflow_server(
    root: Path,
    port: int,
    backend_store_uri: str | None = None,
    app_name: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``mlflow server`` on loopback ``port``, its artifacts under ``root`` and its store in
    ``backend_store_uri`` (default: a sqlite file under ``root``; a restart on the same ``root``
    and port serves the same registry), optionally the ``app_name`` app (``basic-auth``) with
    ``env`` added; returns once healthy."""
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    app = ["--app-name", app_name] if app_name else []
    process = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--backend-store-uri",
            backend_store_uri or f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            *app,
        ],
        stdout=open(root / "server.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_TRACKING_URI": "", **(env or {})},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"mlflow server did not start:\n{(root / 'server.log').read_text()}")
        time.sleep(0.5)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a process started in a session of its own, and its children; SIGKILL after 30 s."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` with a sqlite store, bound to loopback."""
    port = free_port()
    process = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"), port)
    yield f"http://127.0.0.1:{port}"
    stop_process_group(process)


@pytest.fixture(scope="session")
def serving_workspace(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_params: Params,
    demo_raw: Path,
    mlflow_server: str,
) -> Path:
    """A project whose tiny pipeline (demo data, 32-px images, a random-init backbone; ingest
    -> images -> embed -> train -> register through the stage functions) registered
    ``SERVED_NAME`` version 1, champion, on the server; its requirements pinned to the lock."""
    root = tmp_path_factory.mktemp("serving")
    shutil.copytree(demo_raw, root / "data" / "raw")
    shutil.copy(REPO_ROOT / "requirements.lock", root / "requirements.lock")
    torch.manual_seed(0)
    save_checkpoint(TinyBioMoE(img_size=tiny_params.images.size), root / "models" / "random.pth")
    data = tiny_params.model_dump(by_alias=True, mode="json")
    data["embed"]["backbone"] = {"source": "file", "path": "models/random.pth"}
    data["register"].update(
        tracking_uri=mlflow_server, model_name=SERVED_NAME, backbone_name=f"{SERVED_NAME}-backbone"
    )
    (root / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    params, paths = Params.model_validate(data), ProjectPaths.at(root)
    for name in ("ingest", "images", "embed", "train", "register"):
        stage(name)(params, paths, tracking_uri=mlflow_server)
    receipt = json.loads(paths.registry_receipt.read_text())
    assert (receipt["model_name"], receipt["alias"]) == (SERVED_NAME, "champion")
    return root


def pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def served(serving_workspace: Path, mlflow_server: str) -> Iterator[str]:
    """``mlflow models serve -m models:/SERVED_NAME@champion`` on a free loopback port."""
    port = free_port()
    log = serving_workspace / "serve.log"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # it execs uvicorn
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            SERVED_URI,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=open(log, "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_server, "PATH": path},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not pings(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow models serve did not start:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        stop_process_group(process)


def post(
    url: str, payload: dict | str | bytes, content_type: str = "application/json"
) -> tuple[int, dict | str]:
    """POST ``payload`` (a dict is sent as JSON) to ``url``/invocations: status and the answer,
    parsed as JSON where it is JSON."""
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    body = payload.encode() if isinstance(payload, str) else payload
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode(errors="replace")
