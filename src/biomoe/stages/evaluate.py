"""evaluate: the results table (per modality, representation, fusion, baselines)."""

from __future__ import annotations

from pathlib import Path

import mlflow

from biomoe.config import Params
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import log_metrics
from biomoe.scaleout.runners import Runner
from biomoe.stages.sharded import sharded


def run(
    params: Params,
    paths: ProjectPaths,
    tracking_uri: str | None = None,
    runner: Runner | None = None,
) -> Path:
    """The table under ``evaluate.protocol``; the random-init control's embeddings run on
    ``runner`` like the embed stage's."""
    from biomoe.classify.baseline import random_backbone
    from biomoe.classify.evaluate import candidates, evaluate_candidates
    from biomoe.classify.report import tracked_metrics, write_evaluation
    from biomoe.data.windows import read_windows
    from biomoe.embed.extract import embed_images, read_embeddings

    with sharded("evaluate", params, paths, tracking_uri, runner) as shard_runner:
        mlflow.log_params(params.logged("train"))
        windows = read_windows(paths.windows)
        embeddings = read_embeddings(paths.embeddings / "embeddings.parquet")
        control = None
        if params.evaluate.random_backbone:
            checkpoint = random_backbone(
                paths.baselines / "random_backbone.pth", params.images.size, params.evaluate.seed
            )
            embedded = embed_images(
                paths.images,
                checkpoint,
                paths.baselines / "random_embeddings",
                img_size=params.images.size,
                batch_size=params.embed.batch_size,
                engine=params.embed.engine,
                runner=shard_runner,
            )
            control = read_embeddings(embedded.table)
        rows = candidates(
            embeddings, windows, params.train, params.evaluate, control, params.ingest.fs
        )
        evaluation = evaluate_candidates(rows, params.evaluate)
        write_evaluation(
            evaluation,
            paths.evaluation_metrics,
            paths.evaluation_report,
            paths.plots / "evaluation.png",
        )
        log_metrics(tracked_metrics(evaluation))
        mlflow.log_artifact(str(paths.evaluation_report), "evaluation")
        mlflow.log_artifact(str(paths.evaluation_metrics), "evaluation")
        mlflow.log_artifact(str(paths.plots / "evaluation.png"), "plots")
    macro_f1 = evaluation.configured.metrics["macro_f1"]
    print(f"evaluate: {evaluation.protocol}, configured fusion macro-F1 {macro_f1:.3f}")
    return paths.evaluation_metrics
