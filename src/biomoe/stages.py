"""One function per pipeline stage: the single implementation behind the CLI, dvc.yaml and Prefect.

Each stage reads and writes the paths of the data contract (``ProjectPaths``), takes every number
from ``Params``, and logs one MLflow run with its params and metrics. Each imports its heavy
dependencies (torch, Great Expectations, neurokit2) itself: every DVC stage is a new process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
from mlflow import MlflowClient

from biomoe.config import Params
from biomoe.errors import BiomoeError
from biomoe.io import sha256_file, write_json
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import log_metrics, stage_params, stage_run
from biomoe.scaleout import Runner, open_runner

if TYPE_CHECKING:
    from biomoe.embed.extract import EmbedResult


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


def _embed_images(
    params: Params, paths: ProjectPaths, backbone: Path, out_dir: Path, runner: Runner
) -> EmbedResult:
    """Every image of ``paths.images`` through ``backbone`` into the cache at ``out_dir``."""
    from biomoe.embed.extract import embed_images

    return embed_images(
        paths.images,
        backbone,
        out_dir,
        img_size=params.model.img_size,
        batch_size=params.embed.batch_size,
        engine=params.embed.engine,
        runner=runner,
    )


def embed(
    params: Params,
    paths: ProjectPaths,
    tracking_uri: str | None = None,
    runner: Runner | None = None,
) -> Path:
    """Embed with the backbone ``embed.backbone`` names; a bad backbone writes nothing."""
    from biomoe.embed.source import resolve_backbone

    with _sharded_run("embed", params, paths, tracking_uri, runner) as shard_runner:
        backbone = resolve_backbone(params, paths, tracking_uri)
        result = _embed_images(params, paths, backbone.path, paths.embeddings, shard_runner)
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
    from biomoe.classify.train import (
        layout_of,
        save_classifier,
        train_classifier,
        validation_data_sha256,
        write_train_outputs,
    )
    from biomoe.data.windows import read_windows
    from biomoe.embed.extract import embeddings_backbone_sha256, read_embeddings

    with stage_run("train", params, paths.root, ("train",), tracking_uri):
        layout = layout_of(params.train)
        table = paths.embeddings / "embeddings.parquet"
        windows = read_windows(paths.windows)
        result, matrices = train_classifier(read_embeddings(table), windows, layout, params.train)
        backbone_sha = embeddings_backbone_sha256(table)
        save_classifier(
            result,
            layout,
            backbone_sha,
            validation_data_sha256(windows),
            paths.classifier_dir,
        )
        write_train_outputs(result, matrices, paths.classifier_metrics, paths.plots)
        for split, values in result.metrics.items():
            log_metrics(values, prefix=f"{split}_")
        log_metrics({"best_epoch": result.curves.best_epoch})
        mlflow.log_artifact(str(paths.plots / "confusion_matrix.png"), "plots")
        mlflow.log_artifact(str(paths.plots / "classifier_curve.png"), "plots")
    return paths.classifier_metrics


def evaluate(
    params: Params,
    paths: ProjectPaths,
    tracking_uri: str | None = None,
    runner: Runner | None = None,
) -> Path:
    """The results table under ``evaluate.protocol``; the random-init control's embeddings run
    on ``runner`` like the embed stage's."""
    from biomoe.classify.evaluate import candidates, evaluate_candidates
    from biomoe.classify.report import save_evaluation_plot, write_markdown
    from biomoe.data.windows import read_windows
    from biomoe.embed.extract import read_embeddings
    from biomoe.embed.source import random_backbone

    with _sharded_run("evaluate", params, paths, tracking_uri, runner) as shard_runner:
        mlflow.log_params(stage_params(params, "train"))
        windows = read_windows(paths.windows)
        embeddings = read_embeddings(paths.embeddings / "embeddings.parquet")
        control = None
        if params.evaluate.random_backbone:
            checkpoint = random_backbone(
                paths.baselines / "random_backbone.pth", params.model.img_size, params.evaluate.seed
            )
            embedded = _embed_images(
                params, paths, checkpoint, paths.baselines / "random_embeddings", shard_runner
            )
            control = read_embeddings(embedded.table)
        rows = candidates(embeddings, windows, params.train, params.evaluate, control)
        evaluation = evaluate_candidates(rows, params.evaluate)
        write_json(paths.evaluation_metrics, evaluation.as_dict())
        write_markdown(evaluation, paths.evaluation_report)
        save_evaluation_plot(evaluation, paths.plots / "evaluation.png")
        for row in evaluation.rows:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", row.name).strip("_")
            log_metrics({"macro_f1": row.metrics["macro_f1"]}, prefix=f"{slug}.")
        log_metrics(evaluation.configured.metrics, prefix="configured.")
        mlflow.log_artifact(str(paths.evaluation_report), "evaluation")
        mlflow.log_artifact(str(paths.evaluation_metrics), "evaluation")
        mlflow.log_artifact(str(paths.plots / "evaluation.png"), "plots")
    macro_f1 = evaluation.configured.metrics["macro_f1"]
    print(f"evaluate: {evaluation.protocol}, configured fusion macro-F1 {macro_f1:.3f}")
    return paths.evaluation_metrics


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _dvc_data_md5(root: Path) -> str:
    """The md5 that ``data.dvc`` records for data/raw (DVC's version of the input data)."""
    import yaml

    try:
        return str(yaml.safe_load((root / "data.dvc").read_text())["outs"][0]["md5"])
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
        return "unknown"


def provenance(params: Params, paths: ProjectPaths) -> dict[str, str]:
    """What a registered version is tagged with to say where it came from."""
    return {
        "git_commit": _git_commit(paths.root),
        "params_sha256": hashlib.sha256(paths.params.read_bytes()).hexdigest()
        if paths.params.is_file()
        else "unknown",
        "dvc_data_md5": _dvc_data_md5(paths.root),
    }


def _evaluation_tags(paths: ProjectPaths) -> dict[str, str]:
    """The configured fusion's row of the evaluate stage's table, when there is one."""
    if not paths.evaluation_metrics.is_file():
        return {}
    evaluation = json.loads(paths.evaluation_metrics.read_text())
    row = next(r for r in evaluation["rows"].values() if r["configured"])
    prefix = f"eval_{evaluation['protocol']}"
    return {
        f"{prefix}_macro_f1": str(row["macro_f1"]),
        f"{prefix}_macro_f1_ci": str(row["macro_f1_ci"]),
    }


def register(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    """Register the backbone the classifier was trained with, then the classifier; the backbone
    becomes champion when its classifier does (biomoe.registry.backbone)."""
    from biomoe.classify.train import CARD_FILE
    from biomoe.data.windows import read_windows
    from biomoe.embed.source import resolve_backbone
    from biomoe.errors import CheckpointError
    from biomoe.registry.backbone import follow_classifier, register_backbone
    from biomoe.registry.register import register_classifier
    from biomoe.registry.rescore import rescorer

    with stage_run("register", params, paths.root, ("register", "embed"), tracking_uri):
        backbone = resolve_backbone(params, paths, tracking_uri)
        trained_on = json.loads((paths.classifier_dir / CARD_FILE).read_text())["backbone_sha256"]
        if backbone.sha256 != trained_on:
            raise CheckpointError(
                f"backbone {backbone.description} has sha256 {backbone.sha256}, but "
                f"{paths.classifier_dir} was trained on embeddings of {trained_on} (rule: a "
                "classifier is registered with its own backbone; re-run embed and train)"
            )
        origin = provenance(params, paths)
        registered = register_backbone(
            backbone.path, backbone.card, params, {**origin, "source": backbone.description}
        )
        receipt = register_classifier(
            backbone.path,
            paths.classifier_dir,
            params,
            {
                **origin,
                "data_sha256": sha256_file(paths.windows),
                "backbone_sha256": backbone.sha256,
                "backbone_version": registered["version"],
                **_evaluation_tags(paths),
            },
            rescore=rescorer(
                params.registry.model_name,
                read_windows(paths.windows),
                params.registry.promotion,
            ),
        )
        registered["alias"] = follow_classifier(
            MlflowClient(), registered["model_name"], registered["version"], receipt["alias"]
        )
        receipt |= {f"backbone_{k}": v for k, v in registered.items()}
        mlflow.set_tags({f"registered.{k}": v for k, v in receipt.items()})
        run = mlflow.active_run()
        write_json(
            paths.registry_run,
            {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id},
        )
    print(
        f"register: {receipt['model_name']} v{receipt['version']} -> {receipt['alias']}: "
        f"{receipt['decision']}"
    )
    write_json(paths.registry_receipt, receipt)
    return paths.registry_receipt


PIPELINE = (ingest, validate, images, corpus, pretrain, embed, train, evaluate, register)
