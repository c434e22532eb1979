"""The champion served for real: ``mlflow models serve`` on localhost against a real ``mlflow
server`` answers with the pipeline's numbers (probabilities, or embeddings on request), in the
in-process model's too, rejects bad input with HTTP 400 and a clear message, carries a pinned
environment a Dockerfile installs, and ``biomoe predict`` scores an AI4PAIN-layout split into a
CSV with the same numbers.

The champion is the tiny pipeline's own (``serving_workspace`` in the integration conftest).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from tests.integration.conftest import REPO_ROOT, SERVED_URI, post
from typer.testing import CliRunner

from biomoe.classify.fusion import fuse
from biomoe.classify.train import load_classifier
from biomoe.cli import app
from biomoe.config import Params
from biomoe.data.ai4pain import read_ai4pain_split
from biomoe.data.windows import read_windows
from biomoe.embed.extract import read_embeddings
from biomoe.serve.environment import TORCH_CPU_INDEX, locked_versions
from biomoe.serve.params import ServeParams
from biomoe.serve.precision import REQUIRED_FLAGS, cpu_flags
from biomoe.serve.predictor import PainPredictor

pytestmark = pytest.mark.slow

URI = SERVED_URI
LABELS = ["No", "Low", "High"]
MODALITIES = ("Bvp", "Eda", "Resp", "SpO2")


def _samples(root: Path, split: str, params: Params) -> pd.DataFrame:
    """One row per sample of ``split``: sample_id + one float32 window per modality."""
    windows = read_ai4pain_split(root / "data" / "raw" / split, split, params.ingest)
    table = windows.pivot(index="sample_id", columns="modality", values="signal")
    return table[list(MODALITIES)].reset_index()


def _split_payload(frame: pd.DataFrame) -> dict:
    rows = [[np.asarray(frame.at[i, m]).tolist() for m in MODALITIES] for i in frame.index]
    return {"dataframe_split": {"columns": list(MODALITIES), "data": rows}}


def _probabilities(answer: dict) -> np.ndarray:
    return pd.DataFrame(answer["predictions"])[LABELS].to_numpy()


def test_served_champion_answers_as_the_in_process_model(
    served: str, serving_workspace: Path, tiny_params: Params, mlflow_server: str
) -> None:
    frame = _samples(serving_workspace, "validation", tiny_params).iloc[:6].reset_index(drop=True)
    status, answer = post(served, _split_payload(frame))
    assert status == 200, answer
    over_http = _probabilities(answer)

    mlflow.set_tracking_uri(mlflow_server)
    in_process = mlflow.pyfunc.load_model(URI).predict(frame[list(MODALITIES)])
    assert list(in_process.columns) == LABELS
    np.testing.assert_allclose(over_http, in_process.to_numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(over_http.sum(axis=1), 1.0, atol=1e-6)

    records = [{m: np.asarray(frame.at[0, m]).tolist() for m in MODALITIES}]
    status, answer = post(served, {"dataframe_records": records})
    assert status == 200, answer
    np.testing.assert_allclose(_probabilities(answer), over_http[:1], atol=1e-6, rtol=0)


def test_served_model_gives_the_pipelines_embeddings_and_probabilities(
    served: str, serving_workspace: Path, mlflow_server: str
) -> None:
    """From the windows table the pipeline embedded, to the embeddings and probabilities the
    train stage's head gives on the cached embeddings: within 1e-4, over HTTP and in-process."""
    windows = read_windows(serving_workspace / "data/interim/windows.parquet")
    head, layout, _ = load_classifier(serving_workspace / "models/classifier")
    embeddings = read_embeddings(serving_workspace / "data/embeddings/embeddings.parquet")
    fused = fuse(embeddings, windows, layout)
    chosen = fused.samples.index[fused.samples["split"] == "validation"][:8]
    ids = fused.samples.loc[chosen, "sample_id"]
    table = windows[windows["sample_id"].isin(ids)]
    signals = table.pivot(index="sample_id", columns="modality", values="signal").loc[ids]
    frame = signals[list(MODALITIES)].reset_index(drop=True)
    pipeline = fused.features[chosen]

    payload = _split_payload(frame)
    status, answer = post(served, {**payload, "params": {"output": "embedding"}})
    assert status == 200, answer
    over_http = np.stack([np.asarray(r["embedding"]) for r in answer["predictions"]])
    assert over_http.shape == pipeline.shape and len(pipeline) == len(ids) > 0
    np.testing.assert_allclose(over_http, pipeline, atol=1e-4, rtol=0)
    status, answer = post(served, payload)
    assert status == 200, answer
    np.testing.assert_allclose(
        _probabilities(answer), head.predict_proba(pipeline), atol=1e-4, rtol=0
    )

    mlflow.set_tracking_uri(mlflow_server)
    model = mlflow.pyfunc.load_model(URI)
    in_process = model.predict(frame, params={"output": "embedding"})
    np.testing.assert_allclose(np.stack(in_process["embedding"]), pipeline, atol=1e-4, rtol=0)
    message = _error(served, {**payload, "params": {"output": "logits"}})
    assert "parameter output is 'logits'; expected one of ['probabilities', 'embedding']" in (
        message
    )


@pytest.mark.parametrize(
    ("precision", "engine"), [("bf16", "threaded"), ("bf16", "eager"), ("int8", "eager")]
)
def test_reduced_precision_predicts_the_class_fp32_does_on_every_validation_sample(
    precision: str, engine: str, serving_workspace: Path, tiny_params: Params
) -> None:
    if not cpu_flags() & set(REQUIRED_FLAGS[precision]):
        pytest.skip(f"this CPU has none of {REQUIRED_FLAGS[precision]} for {precision}")
    frame = _samples(serving_workspace, "validation", tiny_params)
    signals = {m: list(frame[m]) for m in MODALITIES}

    def predictor(serve: ServeParams) -> PainPredictor:
        return PainPredictor.from_files(
            serving_workspace / "models/random.pth",
            serving_workspace / "models/classifier",
            tiny_params.images,
            tiny_params.ingest.fs,
            serve,
        )

    fp32 = predictor(tiny_params.serve).predict_proba(signals)
    serve = ServeParams.model_validate(
        {**tiny_params.serve.model_dump(), "precision": precision, "engine": engine}
    )
    reduced = predictor(serve)
    probabilities = reduced.predict_proba(signals)
    assert len(frame) > 0
    assert (probabilities.argmax(axis=1) == fp32.argmax(axis=1)).all()
    assert not np.array_equal(probabilities, fp32), "ran in float32"


def test_the_model_pins_the_environment_it_was_trained_in(
    serving_workspace: Path, mlflow_server: str, tmp_path: Path
) -> None:
    """Exact versions from the lock (torch's CPU build and its index included), the lock as
    constraints, the Python version; ``mlflow models generate-dockerfile`` builds on them."""
    mlflow.set_tracking_uri(mlflow_server)
    local = Path(mlflow.artifacts.download_artifacts(URI, dst_path=str(tmp_path / "model")))
    requirements = (local / "requirements.txt").read_text().splitlines()
    locked = locked_versions(REPO_ROOT / "requirements.lock")
    for name in ("torch", "numpy", "pandas", "scipy", "scikit-learn", "pyarrow", "mlflow"):
        assert f"{name}=={locked[name]}" in requirements, (name, requirements)
    assert locked["torch"].endswith("+cpu")
    assert f"--extra-index-url {TORCH_CPU_INDEX}" in requirements
    packages = [r for r in requirements if not r.startswith("-")]
    assert all("==" in r for r in packages), packages
    constraints = locked_versions(local / "constraints.txt")
    assert constraints == locked
    python_env = yaml.safe_load((local / "python_env.yaml").read_text())
    assert python_env["python"] == platform.python_version()

    out = tmp_path / "docker"
    subprocess.run(
        [
            *(str(Path(sys.executable).parent / "mlflow"), "models", "generate-dockerfile"),
            *("-m", URI, "-d", str(out), "--env-manager", "virtualenv"),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_server},
    )
    dockerfile = (out / "Dockerfile").read_text()
    major_minor = ".".join(platform.python_version_tuple()[:2])
    assert f"python{major_minor}" in dockerfile
    assert f"pip install mlflow=={locked['mlflow']}" in dockerfile
    assert "COPY model_dir /opt/ml/model" in dockerfile
    copied = (out / "model_dir" / "requirements.txt").read_text().splitlines()
    assert copied == requirements


def test_the_logged_serving_example_is_a_valid_request(served: str, mlflow_server: str) -> None:
    mlflow.set_tracking_uri(mlflow_server)
    local = Path(mlflow.artifacts.download_artifacts(f"{URI}/serving_input_example.json"))
    status, answer = post(served, local.read_text())
    assert status == 200, answer
    assert _probabilities(answer).shape == (1, 3)


def _error(served: str, payload: dict | str, code: str = "INVALID_PARAMETER_VALUE") -> str:
    status, answer = post(served, payload)
    assert status == 400, answer
    assert answer["error_code"] == code
    return answer["message"]


def test_malformed_input_is_a_400_with_a_clear_message(
    served: str, serving_workspace: Path, tiny_params: Params
) -> None:
    frame = _samples(serving_workspace, "validation", tiny_params).iloc[:2].reset_index(drop=True)
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
    served: str, serving_workspace: Path, tiny_params: Params, mlflow_server: str
) -> None:
    out = serving_workspace / "predictions" / "test.csv"
    result = CliRunner().invoke(
        app,
        ["predict", "--root", str(serving_workspace), "--model-uri", URI, "--out", str(out)],
        env={"MLFLOW_TRACKING_URI": mlflow_server},
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    samples = _samples(serving_workspace, "test", tiny_params)
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
    status, answer = post(served, _split_payload(ordered))
    assert status == 200, answer
    np.testing.assert_allclose(table[LABELS].to_numpy(), _probabilities(answer), atol=1e-6, rtol=0)


def test_biomoe_predict_names_the_bad_file(serving_workspace: Path, mlflow_server: str) -> None:
    bad = serving_workspace / "bad" / "test"
    shutil.copytree(serving_workspace / "data" / "raw" / "test", bad)
    eda = sorted((bad / "Eda").glob("*.csv"))[0]
    frame = pd.read_csv(eda)
    column = frame.columns[1]
    frame[column] = frame[column].iloc[:250]
    frame.to_csv(eda, index=False)
    result = CliRunner().invoke(
        app,
        ["predict", str(bad), "--root", str(serving_workspace), "--model-uri", URI],
        env={"MLFLOW_TRACKING_URI": mlflow_server},
    )
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert f"file {eda}, segment '{column}': window has 250 samples" in output
