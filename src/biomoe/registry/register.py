"""Log the pain classifier as a pyfunc, register it, and apply the promotion rules."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

import biomoe
from biomoe.classify.train import CARD_FILE
from biomoe.config import Params
from biomoe.registry.promote import SCORE_TAG, promote
from biomoe.registry.pyfunc import signature

PACKAGE_DIR = Path(biomoe.__file__).parent
SERVING_MODEL = PACKAGE_DIR / "registry" / "serving_model.py"


def example_input(modalities: list[str], fs: int, seconds: float = 10.0) -> pd.DataFrame:
    t = np.arange(int(fs * seconds)) / fs
    row = {
        m: (np.sin(2 * np.pi * (0.3 + i) * t) + 2.0 + i).tolist() for i, m in enumerate(modalities)
    }
    return pd.DataFrame([row])


def register_classifier(
    backbone_path: Path,
    classifier_dir: Path,
    params: Params,
    tags: dict[str, str],
) -> dict[str, str]:
    """Inside an active MLflow run: log + register ``params.registry.model_name``, then promote."""
    card = json.loads((classifier_dir / CARD_FILE).read_text())
    name = params.registry.model_name
    with tempfile.TemporaryDirectory() as tmp:
        serving = Path(tmp) / "serving.json"
        serving.write_text(
            json.dumps({"images": params.images.model_dump(mode="json"), "fs": params.ingest.fs})
        )
        info = mlflow.pyfunc.log_model(
            name="pain-classifier",
            python_model=str(SERVING_MODEL),
            artifacts={
                "backbone": str(backbone_path),
                "classifier": str(classifier_dir),
                "serving": str(serving),
            },
            code_paths=[str(PACKAGE_DIR)],
            signature=signature(card["modalities"], card["labels"]),
            input_example=example_input(card["modalities"], params.ingest.fs),
            registered_model_name=name,
            pip_requirements=["torch", "numpy", "pandas", "pyarrow", "pydantic", "scipy", "mlflow"],
        )
    version = str(info.registered_model_version)
    client = MlflowClient()
    score = card["validation"]["macro_f1"]
    for key, value in {**tags, SCORE_TAG: str(score)}.items():
        client.set_model_version_tag(name, version, key, value)
    alias = promote(client, name, version)
    return {"model_name": name, "version": version, "alias": alias, SCORE_TAG: str(score)}
