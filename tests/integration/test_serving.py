"""The champion served for real: ``mlflow models serve`` on localhost against a real ``mlflow
server`` answers as the in-process model does, rejects bad input with HTTP 400 and a clear
message, and ``biomoe predict`` scores an AI4PAIN-layout split into a CSV with the same numbers.

The champion is the tiny pipeline's own (demo data, 32-px images, a random-init backbone):
ingest -> images -> embed -> train -> register, through the stage functions.
"""

from __future__ import annotations

import contextlib
import json
import math
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

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from biomoe.cli import app
from biomoe.config import Params
from biomoe.data.ai4pain import read_ai4pain_split
from biomoe.model.checkpoint import save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.paths import ProjectPaths
from biomoe.stages import stage

pytestmark = pytest.mark.slow

NAME = "pain-classifier-serving"
URI = f"models:/{NAME}@champion"
LABELS = ["No", "Low", "High"]
MODALITIES = ("Bvp", "Eda", "Resp", "SpO2")


@pytest.fixture(scope="module")
def workspace(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_params: Params,
    demo_raw: Path,
    mlflow_server: str,
) -> Path:
    """A project whose tiny pipeline registered ``NAME`` (version 1: champion) on the server."""
    root = tmp_path_factory.mktemp("serving")
    shutil.copytree(demo_raw, root / "data" / "raw")
    torch.manual_seed(0)
    save_checkpoint(TinyBioMoE(img_size=tiny_params.images.size), root / "models" / "random.pth")
    data = tiny_params.model_dump(by_alias=True, mode="json")
    data["embed"]["backbone"] = {"source": "file", "path": "models/random.pth"}
    data["register"].update(
        tracking_uri=mlflow_server, model_name=NAME, backbone_name=f"{NAME}-backbone"
    )
    (root / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    params, paths = Params.model_validate(data), ProjectPaths.at(root)
    for name in ("ingest", "images", "embed", "train", "register"):
        stage(name)(params, paths, tracking_uri=mlflow_server)
    receipt = json.loads(paths.registry_receipt.read_text())
    assert (receipt["model_name"], receipt["alias"]) == (NAME, "champion")
    return root


@pytest.fixture(scope="module")
def served(workspace: Path, mlflow_server: str) -> Iterator[str]:
    """``mlflow models serve -m models:/NAME@champion`` on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = workspace / "serve.log"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # it execs uvicorn
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            URI,
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
        while not _pings(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow models serve did not start:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """The server and the uvicorn it execs share the session ``start_new_session`` made."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _post(url: str, payload: dict | str) -> tuple[int, dict]:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    request = urllib.request.Request(
        f"{url}/invocations",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _samples(workspace: Path, split: str, params: Params) -> pd.DataFrame:
    """One row per sample of ``split``: sample_id + one float32 window per modality."""
    windows = read_ai4pain_split(workspace / "data" / "raw" / split, split, params.ingest)
    table = windows.pivot(index="sample_id", columns="modality", values="signal")
    return table[list(MODALITIES)].reset_index()


def _split_payload(frame: pd.DataFrame) -> dict:
    rows = [[np.asarray(frame.at[i, m]).tolist() for m in MODALITIES] for i in frame.index]
    return {"dataframe_split": {"columns": list(MODALITIES), "data": rows}}


def _probabilities(answer: dict) -> np.ndarray:
    return pd.DataFrame(answer["predictions"])[LABELS].to_numpy()


def test_served_champion_answers_as_the_in_process_model(
    served: str, workspace: Path, tiny_params: Params, mlflow_server: str
) -> None:
    frame = _samples(workspace, "validation", tiny_params).iloc[:6].reset_index(drop=True)
    status, answer = _post(served, _split_payload(frame))
    assert status == 200, answer
    over_http = _probabilities(answer)

    mlflow.set_tracking_uri(mlflow_server)
    in_process = mlflow.pyfunc.load_model(URI).predict(frame[list(MODALITIES)])
    assert list(in_process.columns) == LABELS
    np.testing.assert_allclose(over_http, in_process.to_numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(over_http.sum(axis=1), 1.0, atol=1e-6)

    records = [{m: np.asarray(frame.at[0, m]).tolist() for m in MODALITIES}]
    status, answer = _post(served, {"dataframe_records": records})
    assert status == 200, answer
    np.testing.assert_allclose(_probabilities(answer), over_http[:1], atol=1e-6, rtol=0)


def test_the_logged_serving_example_is_a_valid_request(served: str, mlflow_server: str) -> None:
    mlflow.set_tracking_uri(mlflow_server)
    local = Path(mlflow.artifacts.download_artifacts(f"{URI}/serving_input_example.json"))
    status, answer = _post(served, local.read_text())
    assert status == 200, answer
    assert _probabilities(answer).shape == (1, 3)


def _error(served: str, payload: dict | str, code: str = "INVALID_PARAMETER_VALUE") -> str:
    status, answer = _post(served, payload)
    assert status == 400, answer
    assert answer["error_code"] == code
    return answer["message"]


def test_malformed_input_is_a_400_with_a_clear_message(
    served: str, workspace: Path, tiny_params: Params
) -> None:
    frame = _samples(workspace, "validation", tiny_params).iloc[:2].reset_index(drop=True)
    good = _split_payload(frame)

    rows = good["dataframe_split"]["data"]
    missing = {
        "dataframe_split": {
            "columns": ["Bvp", "Resp", "SpO2"],
            "data": [[r[0], r[2], r[3]] for r in rows],
        }
    }
    assert "Model is missing inputs ['Eda']" in _error(served, missing)

    short = json.loads(json.dumps(good))
    short["dataframe_split"]["data"][1][1] = short["dataframe_split"]["data"][1][1][:300]
    message = _error(served, short)
    assert "row 1, column 'Eda': window has 300 samples (3 s at 100 Hz)" in message
    assert "outside the 5-60 s the model was trained on" in message

    gappy = json.loads(json.dumps(good))
    window = gappy["dataframe_split"]["data"][0][0]
    window[:200] = [math.nan] * 200
    message = _error(served, json.dumps(gappy))  # NaN tokens, as Python's json writes them
    assert f"row 0, column 'Bvp': window is {200 / len(window):.1%} missing (200 of" in message

    nulls = json.loads(json.dumps(good))
    nulls["dataframe_split"]["data"][0][3] = [None] * 1000
    assert "row 0, column 'SpO2': window has no finite sample" in _error(served, nulls)

    empty = {"dataframe_split": {"columns": list(MODALITIES), "data": []}}
    assert "input is empty: no rows" in _error(served, empty)

    text = json.loads(json.dumps(good))
    text["dataframe_split"]["data"][0][0][5] = "high"
    message = _error(served, text, code="BAD_REQUEST")  # MLflow's signature check answers
    assert "Failed to convert column Bvp to type 'Array(double)'" in message


def test_biomoe_predict_scores_the_test_split_as_the_server_does(
    served: str, workspace: Path, tiny_params: Params, mlflow_server: str
) -> None:
    out = workspace / "predictions" / "test.csv"
    result = CliRunner().invoke(
        app,
        ["predict", "--root", str(workspace), "--model-uri", URI, "--out", str(out)],
        env={"MLFLOW_TRACKING_URI": mlflow_server},
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    samples = _samples(workspace, "test", tiny_params)
    assert len(table) == len(samples) == table["sample_id"].nunique()
    assert set(table["sample_id"]) == set(samples["sample_id"])
    assert list(table.columns) == [
        "sample_id",
        "subject",
        "split",
        "segment",
        "label",
        *LABELS,
        "predicted",
        "model_uri",
        "model_version",
    ]
    assert (table["split"] == "test").all()
    assert (table["model_uri"] == URI).all() and (table["model_version"] == 1).all()
    assert (table["predicted"] == table[LABELS].idxmax(axis=1)).all()

    ordered = samples.set_index("sample_id").loc[table["sample_id"]].reset_index()
    status, answer = _post(served, _split_payload(ordered))
    assert status == 200, answer
    np.testing.assert_allclose(table[LABELS].to_numpy(), _probabilities(answer), atol=1e-6, rtol=0)


def test_biomoe_predict_names_the_bad_file(workspace: Path, mlflow_server: str) -> None:
    bad = workspace / "bad" / "test"
    shutil.copytree(workspace / "data" / "raw" / "test", bad)
    eda = sorted((bad / "Eda").glob("*.csv"))[0]
    frame = pd.read_csv(eda)
    column = frame.columns[1]
    frame[column] = frame[column].iloc[:250]
    frame.to_csv(eda, index=False)
    result = CliRunner().invoke(
        app,
        ["predict", str(bad), "--root", str(workspace), "--model-uri", URI],
        env={"MLFLOW_TRACKING_URI": mlflow_server},
    )
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert f"file {eda}, segment '{column}': window has 250 samples" in output
