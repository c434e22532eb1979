"""register: the backbone and the classifier into the MLflow registry; promotion applied."""

from __future__ import annotations

from pathlib import Path

import mlflow

from biomoe.config import Params
from biomoe.io import write_json
from biomoe.paths import ProjectPaths
from biomoe.stages.common import tracked


def run(params: Params, paths: ProjectPaths, tracking_uri: str | None = None) -> Path:
    """The receipt (``reports/registry.json``): versions, aliases and the promotion decision."""
    from biomoe.registry.provenance import provenance
    from biomoe.registry.source import resolve_backbone
    from biomoe.serve.inputs import WindowSpec
    from biomoe.serve.register import register_pipeline_models

    with tracked("register", params, paths, ("register", "embed", "serve"), tracking_uri) as run:
        receipt = register_pipeline_models(
            resolve_backbone(
                params.embed.backbone,
                paths,
                params.images.size,
                tracking_uri or params.register.tracking_uri,
            ),
            paths.classifier_dir,
            paths.windows,
            paths.evaluation_metrics,
            params.register,
            params.images,
            WindowSpec(
                params.ingest.fs,
                params.validate.min_seconds,
                params.validate.max_seconds,
                params.validate.max_nan_fraction,
            ),
            params.serve,
            paths.requirements_lock if paths.requirements_lock.is_file() else None,
            provenance(paths.root, paths.params),
        )
        mlflow.set_tags({f"registered.{k}": v for k, v in receipt.items()})
        ids = {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id}
        write_json(paths.registry_run, ids)
    print(
        f"register: {receipt['model_name']} v{receipt['version']} -> {receipt['alias']}: "
        f"{receipt['decision']}"
    )
    write_json(paths.registry_receipt, receipt)
    return paths.registry_receipt
