"""Log the pain classifier as a pyfunc, register it with its backbone, apply the promotion rules."""

from __future__ import annotations

import hashlib
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
from biomoe.serve.environment import pinned_requirements
from biomoe.serve.inputs import WindowSpec
from biomoe.serve.params import ServeParams
from biomoe.serve.pyfunc import input_example, serving_config, signature
from biomoe.serve.rescore import rescorer

PACKAGE_DIR = Path(biomoe.__file__).parent
SERVING_MODEL = PACKAGE_DIR / "serve" / "model_code.py"
SERVING_ENTRY = "biomoe.serve.model_code"


CLASSIFIER_TAG = "classifier_sha256"
"""Identity of a registered classifier: its head and card, and the backbone it embeds with."""


def classifier_sha256(classifier_dir: Path, backbone_sha256: str) -> str:
    digest = hashlib.sha256(backbone_sha256.encode())
    for path in sorted(p for p in classifier_dir.iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0" + sha256_file(path).encode())
    return digest.hexdigest()


def _registered(client: MlflowClient, name: str, identity: str) -> str | None:
    """The oldest version of ``name`` that holds this very classifier, if any."""
    found = client.search_model_versions(
        f"name = '{name}' and tags.{CLASSIFIER_TAG} = '{identity}'"
    )
    return str(min(int(v.version) for v in found)) if found else None


def register_classifier(
    backbone_path: Path,
    classifier_dir: Path,
    register: RegisterParams,
    images: ImageParams,
    window: WindowSpec,
    serve: ServeParams,
    requirements_lock: Path | None,
    tags: dict[str, str],
    rescore: Rescore | None = None,
) -> dict[str, str]:
    """Inside an active MLflow run: log + register ``register.model_name`` (serving renders
    ``images``, accepts ``window`` and runs as ``serve`` says; its requirements pinned to
    ``requirements_lock``, else to the installed versions), with every tag (``tags``, the
    validation metrics and data version) set as the version is created, then apply the
    promotion rules (``rescore`` re-scores a champion trained on other validation data).
    Returns the receipt.

    Registration cannot be left half-done: a version exists with all its tags or not at all,
    and a classifier already registered (same head, card and backbone: a run killed after
    registering, a clone re-running on a shared server) reuses its version (``reused``)."""
    card = json.loads((classifier_dir / CARD_FILE).read_text())
    name = register.model_name
    client = MlflowClient()
    metrics = {f"val_{key}": str(value) for key, value in card["validation"].items()}
    identity = classifier_sha256(classifier_dir, tags.get("backbone_sha256", ""))
    version_tags = {
        **tags,
        **metrics,
        DATA_TAG: card["validation_data_sha256"],
        CLASSIFIER_TAG: identity,
    }
    version = _registered(client, name, identity)
    reused = version is not None
    if version is None:
        with tempfile.TemporaryDirectory() as tmp:
            serving = Path(tmp) / "serving.json"
            serving.write_text(json.dumps(serving_config(images, window, serve)))
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
                pip_requirements=pinned_requirements(SERVING_ENTRY, requirements_lock),
            )
        version = str(mlflow.register_model(info.model_uri, name, tags=version_tags).version)
    decision = promote(client, name, version, register.promotion, rescore)
    tag = metric_tag(register.promotion)
    return {
        "model_name": name,
        "version": version,
        "reused": str(reused).lower(),
        **decision.as_dict(),
        tag: metrics[tag],
    }


def register_pipeline_models(
    backbone: ResolvedBackbone,
    classifier_dir: Path,
    windows_path: Path,
    evaluation_metrics: Path,
    register: RegisterParams,
    images: ImageParams,
    window: WindowSpec,
    serve: ServeParams,
    requirements_lock: Path | None,
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
        serve,
        requirements_lock,
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
