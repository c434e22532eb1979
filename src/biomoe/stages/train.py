"""train: the pain head on fused embeddings; the classifier, its metrics and plots."""

from __future__ import annotations

from pathlib import Path

import mlflow

from biomoe.config import Params
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import log_metrics
from biomoe.stages.common import tracked


def run(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.classify.train import (
        layout_of,
        save_classifier,
        train_classifier,
        validation_data_sha256,
        write_train_outputs,
    )
    from biomoe.data.windows import read_windows
    from biomoe.embed.extract import embeddings_backbone_sha256, read_embeddings

    with tracked("train", params, paths, ("train",), tracking_uri):
        layout = layout_of(params.train)
        table = paths.embeddings / "embeddings.parquet"
        windows = read_windows(paths.windows)
        result, matrices = train_classifier(read_embeddings(table), windows, layout, params.train)
        save_classifier(
            result,
            layout,
            embeddings_backbone_sha256(table),
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
