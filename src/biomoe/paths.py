"""Where each stage reads and writes, relative to a project root (DESIGN.md data contracts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BACKBONE_CHECKPOINT = "model.pth"
"""A backbone folder (``models/backbone``, a registry version) holds the checkpoint in the
published format under this name ..."""
BACKBONE_CARD = "model.json"
"""... and its card (what it was trained on, how well) under this one."""


@dataclass(frozen=True)
class ProjectPaths:
    root: Path

    @classmethod
    def at(cls, root: str | Path = ".") -> ProjectPaths:
        return cls(Path(root).resolve())

    @property
    def params(self) -> Path:
        return self.root / "params.yaml"

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def windows(self) -> Path:
        return self.root / "data" / "interim" / "windows.parquet"

    @property
    def validation_report(self) -> Path:
        return self.root / "reports" / "validation"

    @property
    def images(self) -> Path:
        return self.root / "data" / "images"

    @property
    def corpus(self) -> Path:
        return self.root / "data" / "corpus"

    @property
    def backbone_dir(self) -> Path:
        return self.root / "models" / "backbone"

    @property
    def backbone(self) -> Path:
        return self.backbone_dir / BACKBONE_CHECKPOINT

    @property
    def embeddings(self) -> Path:
        return self.root / "data" / "embeddings"

    @property
    def baselines(self) -> Path:
        """The evaluate stage's random-init backbone and its embeddings."""
        return self.root / "data" / "baselines"

    @property
    def evaluation_metrics(self) -> Path:
        return self.metrics_dir / "evaluation.json"

    @property
    def evaluation_report(self) -> Path:
        return self.root / "reports" / "evaluation.md"

    @property
    def classifier_dir(self) -> Path:
        return self.root / "models" / "classifier"

    @property
    def metrics_dir(self) -> Path:
        return self.root / "metrics"

    @property
    def classifier_metrics(self) -> Path:
        return self.metrics_dir / "classifier.json"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def registry_receipt(self) -> Path:
        return self.root / "reports" / "registry.json"

    @property
    def registry_run(self) -> Path:
        """The register stage's MLflow run ids (not a DVC out: they differ on every run)."""
        return self.root / "reports" / "registry_run.json"

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"

    @property
    def requirements_lock(self) -> Path:
        """The exact versions the project installs (``make lock``); pins the served model."""
        return self.root / "requirements.lock"
