"""corpus: the pretraining corpus (simulated, packaged and user recordings) as image shards, at
the pretraining recipe's ``corpus_scale``."""

from __future__ import annotations

from pathlib import Path

import mlflow

from biomoe.config import Params
from biomoe.paths import ProjectPaths
from biomoe.registry.tracking import log_metrics
from biomoe.stages.common import tracked


def run(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    from biomoe.corpus.build import build_corpus

    recipe = params.pretrain.recipes[params.pretrain.recipe]
    with tracked("corpus", params, paths, ("corpus",), tracking_uri):
        mlflow.log_params({"pretrain.recipe": params.pretrain.recipe})
        summary = build_corpus(
            params.corpus.scaled(recipe.corpus_scale),
            params.images,
            params.ingest.fs,
            paths.corpus,
            gallery_dir=paths.plots / "corpus",
            root=paths.root,
        )
        log_metrics(summary.metrics())
        mlflow.log_artifact(str(paths.corpus / "summary.json"), "corpus")
        mlflow.log_artifacts(str(paths.plots / "corpus"), "corpus_gallery")
    return paths.corpus
