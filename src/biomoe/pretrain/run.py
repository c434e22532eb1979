"""The pretrain stage: corpus -> multi-task training -> backbone checkpoint + model card."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from biomoe.config import Params
from biomoe.io import sha256_file, write_json
from biomoe.model import TinyBioMoE, save_checkpoint
from biomoe.plots import save_curves
from biomoe.pretrain.corpus import CorpusImages, build_corpus_images
from biomoe.pretrain.heads import MultiTaskModel
from biomoe.pretrain.trainer import History, train_multitask
from biomoe.seeding import seed_everything


@dataclass(frozen=True)
class PretrainResult:
    checkpoint: Path
    card: Path
    curves: Path
    metrics: dict[str, float]


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def pretrain_backbone(params: Params, out_dir: Path, plots_dir: Path) -> PretrainResult:
    """Train Tiny-BioMoE from scratch on the simulated corpus; write model.pth and model.json."""
    cfg = params.pretrain
    seed_everything(cfg.seed)
    corpus: CorpusImages = build_corpus_images(params)
    train_idx, val_idx = split_indices(len(corpus.images), cfg.val_fraction, cfg.seed)

    backbone = TinyBioMoE(img_size=params.model.img_size)
    model = MultiTaskModel(backbone, {t: len(c) for t, c in corpus.classes.items()})
    history: History = train_multitask(
        model,
        corpus.images[train_idx],
        {t: v[train_idx] for t, v in corpus.labels.items()},
        corpus.images[val_idx],
        {t: v[val_idx] for t, v in corpus.labels.items()},
        weights=cfg.task_weights,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
    )

    checkpoint = out_dir / "model.pth"
    save_checkpoint(backbone.eval(), checkpoint)
    metrics = {
        "train_loss": history.train_loss[-1],
        "val_loss": history.val_loss[-1],
        **{f"val_acc_{t}": acc[-1] for t, acc in history.val_acc.items()},
    }
    card = out_dir / "model.json"
    write_json(
        card,
        {
            "architecture": "Tiny-BioMoE",
            "img_size": params.model.img_size,
            "checkpoint_sha256": sha256_file(checkpoint),
            "corpus_sha256": corpus.sha256,
            "corpus_images": len(corpus.images),
            "tasks": {t: list(c) for t, c in corpus.classes.items()},
            "params": {
                "pretrain": cfg.model_dump(mode="json"),
                "images": params.images.model_dump(mode="json"),
            },
            "metrics": {k: round(v, 6) for k, v in metrics.items()},
            "history": {
                "train_loss": [round(v, 6) for v in history.train_loss],
                "val_loss": [round(v, 6) for v in history.val_loss],
            },
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
    )
    curves = plots_dir / "pretrain_curves.png"
    save_curves(
        {
            "train loss": history.train_loss,
            "val loss": history.val_loss,
            **{f"val acc ({t})": v for t, v in history.val_acc.items()},
        },
        curves,
        "Tiny-BioMoE multi-task pretraining",
    )
    return PretrainResult(checkpoint=checkpoint, card=card, curves=curves, metrics=metrics)
