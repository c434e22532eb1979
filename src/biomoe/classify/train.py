"""The train stage: fused embeddings -> MLP head on train, evaluated on validation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from biomoe.classify.fusion import FeatureLayout, FusedSet, fuse
from biomoe.classify.head import PainHead
from biomoe.classify.metrics import classification_metrics, confusion
from biomoe.config import PAIN_LABELS, TrainParams
from biomoe.errors import DataError
from biomoe.io import atomic_path, write_json
from biomoe.plots import save_confusion_matrix, save_curves
from biomoe.seeding import seed_everything

HEAD_FILE = "head.pt"
CARD_FILE = "classifier.json"


@dataclass(frozen=True)
class TrainResult:
    head: PainHead
    metrics: dict[str, dict[str, float]]
    loss_curve: list[float]


def _labelled(fused: FusedSet, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    mask = (fused.samples["split"] == split) & fused.samples["label"].isin(PAIN_LABELS)
    if not mask.any():
        raise DataError(f"the {split} split has no sample labelled {list(PAIN_LABELS)}")
    index = {name: i for i, name in enumerate(PAIN_LABELS)}
    labels = fused.samples.loc[mask, "label"].map(index).to_numpy(np.int64)
    return torch.from_numpy(fused.features[mask.to_numpy()]), torch.from_numpy(labels)


def fit_head(x: torch.Tensor, y: torch.Tensor, params: TrainParams) -> tuple[PainHead, list[float]]:
    """Class-weighted cross-entropy (No is rarer than Low/High), AdamW, seeded mini-batches."""
    seed_everything(params.seed)
    head = PainHead(x.shape[1], params.hidden, len(PAIN_LABELS), params.dropout)
    head.fit_standardisation(x)
    counts = torch.bincount(y, minlength=len(PAIN_LABELS)).float().clamp_min(1)
    loss_fn = nn.CrossEntropyLoss(weight=counts.sum() / (len(PAIN_LABELS) * counts))
    optimizer = torch.optim.AdamW(head.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    generator = torch.Generator().manual_seed(params.seed)
    curve = []
    for _ in range(params.epochs):
        head.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), params.batch_size):
            idx = order[start : start + params.batch_size]
            loss = loss_fn(head(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        curve.append(total / len(x))
    return head.eval(), curve


@torch.no_grad()
def predict_labels(head: PainHead, x: torch.Tensor) -> np.ndarray:
    return head.eval()(x).argmax(1).numpy()


def train_classifier(
    embeddings: pd.DataFrame,
    windows: pd.DataFrame,
    layout: FeatureLayout,
    params: TrainParams,
) -> tuple[TrainResult, dict[str, np.ndarray]]:
    """Returns the fitted head, metrics per split and the confusion matrix per split."""
    fused = fuse(embeddings, windows, layout)
    x_train, y_train = _labelled(fused, "train")
    x_val, y_val = _labelled(fused, "validation")
    head, curve = fit_head(x_train, y_train, params)
    metrics, matrices = {}, {}
    for split, x, y in (("train", x_train, y_train), ("validation", x_val, y_val)):
        pred = predict_labels(head, x)
        metrics[split] = classification_metrics(y.numpy(), pred, PAIN_LABELS)
        matrices[split] = confusion(y.numpy(), pred, len(PAIN_LABELS))
    return TrainResult(head, metrics, curve), matrices


def save_classifier(
    result: TrainResult,
    layout: FeatureLayout,
    params: TrainParams,
    backbone_sha256: str,
    out_dir: Path,
) -> None:
    """``head.pt`` (state dict) + ``classifier.json`` (everything needed to rebuild and feed it)."""
    in_dim = int(result.head.mean.shape[0])
    with atomic_path(out_dir / HEAD_FILE) as tmp, open(tmp, "wb") as handle:
        torch.save(result.head.state_dict(), handle)  # a handle keeps the temp name out of the zip
    write_json(
        out_dir / CARD_FILE,
        {
            "labels": list(PAIN_LABELS),
            "modalities": list(layout.modalities),
            "representations": list(layout.representations),
            "in_dim": in_dim,
            "hidden": params.hidden,
            "dropout": params.dropout,
            "backbone_sha256": backbone_sha256,
            "validation": result.metrics["validation"],
        },
    )


def load_classifier(out_dir: Path) -> tuple[PainHead, FeatureLayout, dict]:
    card = json.loads((out_dir / CARD_FILE).read_text())
    head = PainHead(card["in_dim"], card["hidden"], len(card["labels"]), card["dropout"])
    state = torch.load(out_dir / HEAD_FILE, map_location="cpu", weights_only=True)
    head.load_state_dict(state, strict=True)
    layout = FeatureLayout(tuple(card["modalities"]), tuple(card["representations"]))
    return head.eval(), layout, card


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
    save_curves({"train loss": result.loss_curve}, plots_dir / "classifier_curve.png", "Pain head")
