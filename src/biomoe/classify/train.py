"""The train stage: fused embeddings -> the configured head on train, scored on validation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biomoe.classify.fusion import FeatureLayout, FusedSet, fuse
from biomoe.classify.heads import Curves, FittedHead, fit_head, load_head
from biomoe.classify.metrics import classification_metrics, confusion, label_ids
from biomoe.classify.params import TrainParams
from biomoe.data.params import PAIN_LABELS
from biomoe.errors import DataError
from biomoe.io import write_json
from biomoe.plots import save_confusion_matrix, save_curves

CARD_FILE = "classifier.json"


@dataclass(frozen=True)
class TrainResult:
    head: FittedHead
    metrics: dict[str, dict[str, float]]
    curves: Curves


def layout_of(params: TrainParams) -> FeatureLayout:
    fusion = params.fusion
    return FeatureLayout(fusion.modalities, fusion.representations, fusion.combine)


def labelled(
    fused: FusedSet, split: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, label ids, subjects) of the samples of ``split`` (all splits: None) that carry
    a pain label; the test split's hidden labels never qualify."""
    mask = fused.samples["label"].isin(PAIN_LABELS)
    if split is not None:
        mask &= fused.samples["split"] == split
    if not mask.any():
        raise DataError(
            f"the {split or 'labelled'} split has no sample labelled {list(PAIN_LABELS)}"
        )
    rows = fused.samples.loc[mask]
    return fused.features[mask.to_numpy()], label_ids(rows["label"]), rows["subject"].to_numpy(str)


def predict_labels(head: FittedHead, x: np.ndarray) -> np.ndarray:
    return head.predict_proba(x).argmax(1)


def train_classifier(
    embeddings: pd.DataFrame,
    windows: pd.DataFrame,
    layout: FeatureLayout,
    params: TrainParams,
) -> tuple[TrainResult, dict[str, np.ndarray]]:
    """Fit on train, score train and validation; returns metrics and confusion matrix per split."""
    fused = fuse(embeddings, windows, layout)
    x_train, y_train, subjects = labelled(fused, "train")
    x_val, y_val, _ = labelled(fused, "validation")
    head, curves = fit_head(x_train, y_train, subjects, params, len(PAIN_LABELS))
    metrics, matrices = {}, {}
    for split, x, y in (("train", x_train, y_train), ("validation", x_val, y_val)):
        pred = predict_labels(head, x)
        metrics[split] = classification_metrics(y, pred, PAIN_LABELS)
        matrices[split] = confusion(y, pred, len(PAIN_LABELS))
    return TrainResult(head, metrics, curves), matrices


def validation_data_sha256(windows: pd.DataFrame) -> str:
    """The version of the validation data: every validation window's id, label and samples."""
    rows = windows[windows["split"] == "validation"].sort_values("window_id", kind="stable")
    digest = hashlib.sha256()
    for window_id, label, signal in zip(
        rows["window_id"], rows["label"], rows["signal"], strict=True
    ):
        digest.update(f"{window_id}\0{label}\0".encode())
        digest.update(np.asarray(signal, dtype=np.float32).tobytes())
    return digest.hexdigest()


def save_classifier(
    result: TrainResult,
    layout: FeatureLayout,
    backbone_sha256: str,
    validation_sha256: str,
    out_dir: Path,
) -> None:
    """The head's weights + ``classifier.json`` (everything needed to rebuild and feed it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.iterdir():
        if stale.name != CARD_FILE:
            stale.unlink()
    head_card = result.head.save(out_dir)
    write_json(
        out_dir / CARD_FILE,
        {
            "labels": list(PAIN_LABELS),
            "head": result.head.kind,
            **head_card,
            "modalities": list(layout.modalities),
            "representations": list(layout.representations),
            "combine": layout.combine,
            "backbone_sha256": backbone_sha256,
            "validation_data_sha256": validation_sha256,
            "best_epoch": result.curves.best_epoch,
            "validation": result.metrics["validation"],
        },
    )


def load_classifier(out_dir: Path) -> tuple[FittedHead, FeatureLayout, dict]:
    card = json.loads((out_dir / CARD_FILE).read_text())
    layout = FeatureLayout(
        tuple(card["modalities"]), tuple(card["representations"]), card.get("combine", "concat")
    )
    return load_head(out_dir, card), layout, card


def write_train_outputs(
    result: TrainResult,
    matrices: dict[str, np.ndarray],
    metrics_path: Path,
    plots_dir: Path,
) -> None:
    write_json(metrics_path, result.metrics)
    save_confusion_matrix(
        matrices["validation"],
        PAIN_LABELS,
        plots_dir / "confusion_matrix.png",
        f"Validation (macro-F1 {result.metrics['validation']['macro_f1']:.3f})",
    )
    save_curves(
        result.curves.as_dict(),
        plots_dir / "classifier_curve.png",
        f"Pain head ({result.head.kind}, kept epoch {result.curves.best_epoch})",
    )
