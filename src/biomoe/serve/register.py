"""Log the pain classifier as a pyfunc, register it with its backbone, apply the promotion rules."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient

import biomoe
from biomoe.classify.train import CARD_FILE
from biomoe.data.windows import read_windows
from biomoe.imaging.params import ImageParams
from biomoe.io import sha256_file
from biomoe.registry.backbone import BACKBONE_VERSION_TAG, follow_classifier, register_backbone
from biomoe.registry.params import RegisterParams
from biomoe.registry.promote import DATA_TAG, Rescore, metric_tag, promote
from biomoe.registry.provenance import evaluation_tags, require_own_backbone
from biomoe.registry.source import ResolvedBackbone
from biomoe.serve.inputs import WindowSpec
from biomoe.serve.pyfunc import input_example, serving_config, signature
from biomoe.serve.rescore import rescorer

PACKAGE_DIR = Path(biomoe.__file__).parent
SERVING_MODEL = PACKAGE_DIR / "serve" / "model_code.py"


def register_classifier(
    backbone_path: Path,
    classifier_dir: Path,
    register: RegisterParams,
    images: ImageParams,
    window: WindowSpec,
    tags: dict[str, str],
    rescore: Rescore | None = None,
) -> dict[str, str]:
    """Inside an active MLflow run: log + register ``register.model_name`` (serving renders
    ``images`` and accepts ``window``), tag the version (``tags``, the validation metrics and
    data version), then apply the promotion rules (``rescore`` re-scores a champion trained on
    other validation data). Returns the receipt."""
    card = json.loads((classifier_dir / CARD_FILE).read_text())
    name = register.model_name
    with tempfile.TemporaryDirectory() as tmp:
        serving = Path(tmp) / "serving.json"
        serving.write_text(json.dumps(serving_config(images, window)))
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
            input_example=input_example(card["modalities"], window),
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
    decision = promote(client, name, version, register.promotion, rescore)
    tag = metric_tag(register.promotion)
    return {"model_name": name, "version": version, **decision.as_dict(), tag: metrics[tag]}


def register_pipeline_models(
    backbone: ResolvedBackbone,
    classifier_dir: Path,
    windows_path: Path,
    evaluation_metrics: Path,
    register: RegisterParams,
    images: ImageParams,
    window: WindowSpec,
    provenance_tags: dict[str, str],
) -> dict[str, str]:
    """Inside an active MLflow run: register ``backbone``, then the classifier trained on its
    embeddings (refused for any other backbone), tagged with ``provenance_tags``, the windows'
    hash, the backbone version and the evaluation; promotion applies to the classifier and the
    backbone follows it. Returns the receipt (the classifier's, plus ``backbone_*`` keys)."""
    require_own_backbone(classifier_dir, backbone.sha256, backbone.description)
    registered = register_backbone(
        backbone.path,
        backbone.card,
        register.backbone_name,
        {**provenance_tags, "source": backbone.description},
    )
    receipt = register_classifier(
        backbone.path,
        classifier_dir,
        register,
        images,
        window,
        {
            **provenance_tags,
            "data_sha256": sha256_file(windows_path),
            "backbone_sha256": backbone.sha256,
            BACKBONE_VERSION_TAG: registered["version"],
            **evaluation_tags(evaluation_metrics),
        },
        rescore=rescorer(register.model_name, read_windows(windows_path), register.promotion),
    )
    registered["alias"] = follow_classifier(
        MlflowClient(), registered["model_name"], registered["version"], receipt["alias"]
    )
    return receipt | {f"backbone_{k}": v for k, v in registered.items()}
