"""Log the pain classifier as a pyfunc, register it, and apply the promotion rules."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient

import biomoe
from biomoe.classify.serving_input import WindowSpec
from biomoe.classify.train import CARD_FILE
from biomoe.config import Params
from biomoe.registry.promote import DATA_TAG, Rescore, metric_tag, promote
from biomoe.registry.pyfunc import input_example, serving_config, signature

PACKAGE_DIR = Path(biomoe.__file__).parent
SERVING_MODEL = PACKAGE_DIR / "registry" / "serving_model.py"


def register_classifier(
    backbone_path: Path,
    classifier_dir: Path,
    params: Params,
    tags: dict[str, str],
    rescore: Rescore | None = None,
) -> dict[str, str]:
    """Inside an active MLflow run: log + register ``params.registry.model_name``, tag the
    version (``tags``, the validation metrics and data version), then apply the promotion rules
    (``rescore`` re-scores a champion trained on other validation data). Returns the receipt."""
    card = json.loads((classifier_dir / CARD_FILE).read_text())
    name = params.registry.model_name
    with tempfile.TemporaryDirectory() as tmp:
        serving = Path(tmp) / "serving.json"
        serving.write_text(json.dumps(serving_config(params)))
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
            input_example=input_example(card["modalities"], WindowSpec.from_params(params)),
            registered_model_name=name,
            pip_requirements=[
                "torch",
                "numpy",
                "pandas",
                "pyarrow",
                "pydantic",
                "scipy",
                "scikit-learn",
                "mlflow",
            ],
        )
    version = str(info.registered_model_version)
    client = MlflowClient()
    metrics = {f"val_{key}": str(value) for key, value in card["validation"].items()}
    version_tags = {**tags, **metrics, DATA_TAG: card["validation_data_sha256"]}
    for key, value in version_tags.items():
        client.set_model_version_tag(name, version, key, value)
    decision = promote(client, name, version, params.registry.promotion, rescore)
    tag = metric_tag(params.registry.promotion)
    return {"model_name": name, "version": version, **decision.as_dict(), tag: metrics[tag]}
