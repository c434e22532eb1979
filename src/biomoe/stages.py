"""One function per pipeline stage: the single implementation behind the CLI, dvc.yaml and Prefect.

Each stage reads and writes the paths of the data contract (``ProjectPaths``), takes every number
from ``Params``, and logs one MLflow run with its params and metrics. Each imports its heavy
dependencies (torch, Great Expectations, neurokit2) itself: every DVC stage is a new process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from biomoe.config import Params
from biomoe.errors import BiomoeError
from biomoe.io import sha256_file, write_json
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import log_metrics, stage_run
from biomoe.scaleout import Runner, open_runner


@contextlib.contextmanager
def _sharded_run(
    stage: str,
    params: Params,
    paths: ProjectPaths,
    tracking_uri: str | None,
    given: Runner | None,
) -> Iterator[Runner]:
    """The stage's MLflow run, and the runner its shards go to: ``given``, else the one
    ``scaleout`` in params names (opened and closed here)."""
    with stage_run(stage, params, paths.root, (stage, "scaleout"), tracking_uri):
        if given is not None:
            yield given
        else:
            with open_runner(params.scaleout) as runner:
                yield runner


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


def images(
    params: Params,
    paths: ProjectPaths,
    tracking_uri: str | None = None,
    runner: Runner | None = None,
) -> Path:
    """Shards run on ``runner`` (default: the one ``scaleout`` in params names)."""
    from biomoe.imaging import write_image_shards

    with _sharded_run("images", params, paths, tracking_uri, runner) as shard_runner:
        had = _shards_of(paths.images)
        index = write_image_shards(
            paths.windows,
            paths.images,
            params.images,
            gallery_dir=paths.plots / "images",
            runner=shard_runner,
        )
        shards = set(index["shard"])
        rendered = len(shards - had)
        print(f"images: rendered {rendered} of {len(shards)} shards ({shard_runner.name})")
        log_metrics({"images": len(index), "shards": len(shards), "shards_rendered": rendered})
        mlflow.set_tag("runner", shard_runner.name)
        mlflow.log_artifacts(str(paths.plots / "images"), "gallery")
    return paths.images


def _shards_of(images: Path) -> set[str]:
    """The shards the current image index addresses (none when there is no readable index)."""
    from biomoe.imaging import read_image_index

    try:
        return set(read_image_index(images)["shard"])
    except BiomoeError:
        return set()


def corpus(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.pretrain.corpus import build_corpus

    with stage_run("corpus", params, paths.root, ("pretrain",), tracking_uri):
        summary = build_corpus(
            params, paths.corpus, gallery_dir=paths.plots / "corpus", root=paths.root
        )
        log_metrics(summary.metrics())
        mlflow.log_artifact(str(paths.corpus / "summary.json"), "corpus")
        mlflow.log_artifacts(str(paths.plots / "corpus"), "corpus_gallery")
    return paths.corpus


def pretrain(
    params: Params, paths: ProjectPaths, tracking_uri: str | None = None, resume: bool = False
) -> Path:
    """``torchrun`` with ``pretrain.nproc`` workers; rank 0 logs per-task metrics into this run."""
    from biomoe.pretrain.launch import launch_pretraining

    with stage_run("pretrain", params, paths.root, ("pretrain", "model"), tracking_uri) as run:
        result = launch_pretraining(
            params,
            paths,
            resume,
            tracking_uri=mlflow.get_tracking_uri(),
            run_id=run.info.run_id,
        )
        log_metrics(result.metrics)
        mlflow.log_artifact(str(result.curves), "plots")
        mlflow.log_artifact(str(result.checkpoint), "backbone")
        mlflow.log_artifact(str(result.card), "backbone")
    return result.checkpoint


def embed(
    params: Params,
    paths: ProjectPaths,
    tracking_uri: str | None = None,
    runner: Runner | None = None,
) -> Path:
    """Embed with the backbone ``embed.backbone`` names; a bad backbone writes nothing."""
    from biomoe.embed.extract import embed_images
    from biomoe.embed.source import resolve_backbone

    with _sharded_run("embed", params, paths, tracking_uri, runner) as shard_runner:
        backbone = resolve_backbone(params, paths, tracking_uri)
        result = embed_images(
            paths.images,
            backbone.path,
            paths.embeddings,
            img_size=params.model.img_size,
            batch_size=params.embed.batch_size,
            engine=params.embed.engine,
            runner=shard_runner,
        )
        mlflow.set_tags(
            {
                "backbone_sha256": result.backbone_sha256,
                "backbone_source": backbone.description,
                "runner": shard_runner.name,
            }
        )
        print(f"embed: computed {result.n_computed} of {result.n_images} embeddings")
        log_metrics({"images": result.n_images, "computed": result.n_computed})
    return result.table


def train(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.classify.fusion import FeatureLayout
    from biomoe.classify.train import save_classifier, train_classifier, write_train_outputs
    from biomoe.data.windows import read_windows
    from biomoe.embed.extract import embeddings_backbone_sha256, read_embeddings

    with stage_run("train", params, paths.root, ("train",), tracking_uri):
        layout = FeatureLayout(params.ingest.modalities, params.images.representations)
        table = paths.embeddings / "embeddings.parquet"
        embeddings = read_embeddings(table)
        result, matrices = train_classifier(
            embeddings, read_windows(paths.windows), layout, params.train
        )
        backbone_sha = embeddings_backbone_sha256(table)
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
    """Register the backbone the classifier was trained with, then the classifier; the backbone
    becomes champion when its classifier does (biomoe.registry.backbone)."""
    from biomoe.classify.train import CARD_FILE
    from biomoe.embed.source import resolve_backbone
    from biomoe.errors import CheckpointError
    from biomoe.registry.backbone import follow_classifier, register_backbone
    from biomoe.registry.register import register_classifier

    with stage_run("register", params, paths.root, ("register", "embed"), tracking_uri):
        backbone = resolve_backbone(params, paths, tracking_uri)
        trained_on = json.loads((paths.classifier_dir / CARD_FILE).read_text())["backbone_sha256"]
        if backbone.sha256 != trained_on:
            raise CheckpointError(
                f"backbone {backbone.description} has sha256 {backbone.sha256}, but "
                f"{paths.classifier_dir} was trained on embeddings of {trained_on} (rule: a "
                "classifier is registered with its own backbone; re-run embed and train)"
            )
        provenance = {
            "git_commit": _git_commit(paths.root),
            "params_sha256": hashlib.sha256(paths.params.read_bytes()).hexdigest()
            if paths.params.is_file()
            else "unknown",
        }
        registered = register_backbone(
            backbone.path, backbone.card, params, {**provenance, "source": backbone.description}
        )
        receipt = register_classifier(
            backbone.path,
            paths.classifier_dir,
            params,
            {
                **provenance,
                "data_sha256": sha256_file(paths.windows),
                "backbone_sha256": backbone.sha256,
                "backbone_version": registered["version"],
            },
        )
        registered["alias"] = follow_classifier(
            MlflowClient(), registered["model_name"], registered["version"], receipt["alias"]
        )
        receipt |= {f"backbone_{k}": v for k, v in registered.items()}
        mlflow.set_tags({f"registered.{k}": v for k, v in receipt.items()})
    write_json(paths.registry_receipt, receipt)
    return paths.registry_receipt


PIPELINE = (ingest, validate, images, corpus, pretrain, embed, train, register)
