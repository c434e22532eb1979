"""pretrain: multi-task pretraining of the backbone under torchrun; the backbone published."""

from __future__ import annotations

from pathlib import Path

import mlflow

from biomoe.config import Params
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import log_metrics
from biomoe.stages.common import tracked


def run(
    params: Params, paths: ProjectPaths, tracking_uri: str | None = None, resume: bool = False
) -> Path:
    """``torchrun`` with ``pretrain.nproc`` workers; rank 0 logs per-task metrics into this run."""
    from biomoe.pretrain.launch import launch_pretraining
    from biomoe.pretrain.params import PretrainJob

    with tracked("pretrain", params, paths, ("pretrain", "images"), tracking_uri) as mlflow_run:
        result = launch_pretraining(
            PretrainJob(pretrain=params.pretrain, img_size=params.images.size),
            paths,
            resume,
            tracking_uri=mlflow.get_tracking_uri(),
            run_id=mlflow_run.info.run_id,
        )
        log_metrics(result.metrics)
        mlflow.log_artifact(str(result.curves), "plots")
        mlflow.log_artifact(str(result.checkpoint), "backbone")
        mlflow.log_artifact(str(result.card), "backbone")
    return result.checkpoint
