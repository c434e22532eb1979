"""One function per pipeline stage: the single implementation behind the CLI, dvc.yaml and Prefect.

Each stage reads and writes the paths of the data contract (``ProjectPaths``), takes every number
from ``Params``, and logs one MLflow run with its params and metrics. Each imports its heavy
dependencies (torch, Great Expectations, neurokit2) itself: every DVC stage is a new process.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import mlflow

from biomoe.config import Params
from biomoe.io import sha256_file, write_json
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import log_metrics, stage_run


def demo_data(params: Params, paths: ProjectPaths) -> Path:
    from biomoe.data.demo import generate_demo_dataset

    generate_demo_dataset(paths.raw, params.demo)
    return paths.raw


def ingest(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.data.ai4pain import ingest as ingest_raw

    with stage_run("ingest", params, paths.root, ("ingest",), tracking_uri):
        windows = ingest_raw(paths.raw, paths.windows, params.ingest)
        log_metrics(
            {
                "windows": len(windows),
                "subjects": windows["subject"].nunique(),
                "samples": windows["sample_id"].nunique(),
            }
        )
    return paths.windows


def validate(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    """Raises ``ValidationFailed`` (after writing the report) when any rule is broken."""
    from biomoe.validation import require_valid, validate_windows

    with stage_run("validate", params, paths.root, ("validate",), tracking_uri):
        report = validate_windows(paths.windows, paths.validation_report, params.validate_)
        log_metrics({"success": float(report.success), "failures": len(report.failures)})
        mlflow.log_artifact(str(paths.validation_report / "summary.json"), "validation")
    require_valid(report)
    return paths.validation_report


def images(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.data.windows import read_windows
    from biomoe.imaging import write_image_shards

    with stage_run("images", params, paths.root, ("images",), tracking_uri):
        windows = read_windows(paths.windows)
        index = write_image_shards(
            windows, paths.images, params.images, gallery_dir=paths.plots / "images"
        )
        log_metrics({"images": len(index)})
        mlflow.log_artifacts(str(paths.plots / "images"), "gallery")
    return paths.images


def pretrain(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.pretrain.run import pretrain_backbone

    with stage_run("pretrain", params, paths.root, ("pretrain", "model"), tracking_uri):
        result = pretrain_backbone(params, paths.backbone_dir, paths.plots)
        log_metrics(result.metrics)
        mlflow.log_artifact(str(result.curves), "plots")
        mlflow.log_artifact(str(result.checkpoint), "backbone")
        mlflow.log_artifact(str(result.card), "backbone")
    return result.checkpoint


def embed(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.embed.extract import embed_images

    with stage_run("embed", params, paths.root, ("embed",), tracking_uri):
        result = embed_images(
            paths.images,
            paths.backbone,
            paths.embeddings,
            img_size=params.model.img_size,
            batch_size=params.embed.batch_size,
        )
        mlflow.set_tag("backbone_sha256", result.backbone_sha256)
        log_metrics({"images": result.n_images, "computed": result.n_computed})
    return result.table


def train(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.classify.fusion import FeatureLayout
    from biomoe.classify.train import save_classifier, train_classifier, write_train_outputs
    from biomoe.data.windows import read_windows
    from biomoe.embed.extract import read_embeddings

    with stage_run("train", params, paths.root, ("train",), tracking_uri):
        layout = FeatureLayout(params.ingest.modalities, params.images.representations)
        embeddings = read_embeddings(paths.embeddings / "embeddings.parquet")
        result, matrices = train_classifier(
            embeddings, read_windows(paths.windows), layout, params.train
        )
        backbone_sha = sha256_file(paths.backbone)
        save_classifier(result, layout, params.train, backbone_sha, paths.classifier_dir)
        write_train_outputs(result, matrices, paths.classifier_metrics, paths.plots)
        for split, values in result.metrics.items():
            log_metrics(values, prefix=f"{split}_")
        mlflow.log_artifact(str(paths.plots / "confusion_matrix.png"), "plots")
        mlflow.log_artifact(str(paths.plots / "classifier_curve.png"), "plots")
    return paths.classifier_metrics


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def register(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.registry.register import register_classifier

    with stage_run("register", params, paths.root, ("register",), tracking_uri):
        tags = {
            "git_commit": _git_commit(paths.root),
            "data_sha256": sha256_file(paths.windows),
            "backbone_sha256": sha256_file(paths.backbone),
            "params_sha256": hashlib.sha256(paths.params.read_bytes()).hexdigest()
            if paths.params.is_file()
            else "unknown",
        }
        receipt = register_classifier(paths.backbone, paths.classifier_dir, params, tags)
        mlflow.set_tags({f"registered.{k}": v for k, v in receipt.items()})
    write_json(paths.registry_receipt, receipt)
    return paths.registry_receipt


PIPELINE = (ingest, validate, images, pretrain, embed, train, register)
