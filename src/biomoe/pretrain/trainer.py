"""A single-process multi-task training loop a reader can follow top to bottom."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from rich.progress import Progress
from torch import nn

from biomoe.pretrain.heads import MultiTaskModel


@dataclass
class History:
    """Per-epoch curves: ``train_loss``, and ``val_acc[task]``."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: dict[str, list[float]] = field(default_factory=dict)


def to_float_images(batch: np.ndarray) -> torch.Tensor:
    """uint8 [B,3,S,S] -> float32 in [0, 1], the backbone's input contract."""
    return torch.from_numpy(np.ascontiguousarray(batch)).float().div_(255.0)


def _weighted_loss(
    logits: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    weights: Mapping[str, float],
) -> torch.Tensor:
    loss_fn = nn.functional.cross_entropy
    return sum(weights[t] * loss_fn(logits[t], targets[t]) for t in logits)


@torch.no_grad()
def evaluate(
    model: MultiTaskModel,
    images: np.ndarray,
    labels: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    batch_size: int,
) -> tuple[float, dict[str, float]]:
    model.eval()
    total_loss, correct = 0.0, dict.fromkeys(labels, 0)
    for start in range(0, len(images), batch_size):
        x = to_float_images(images[start : start + batch_size])
        y = {t: torch.from_numpy(v[start : start + batch_size]) for t, v in labels.items()}
        logits = model(x)
        total_loss += float(_weighted_loss(logits, y, weights)) * len(x)
        for task in labels:
            correct[task] += int((logits[task].argmax(1) == y[task]).sum())
    n = max(len(images), 1)
    return total_loss / n, {t: c / n for t, c in correct.items()}


def train_multitask(
    model: MultiTaskModel,
    images: np.ndarray,
    labels: Mapping[str, np.ndarray],
    val_images: np.ndarray,
    val_labels: Mapping[str, np.ndarray],
    *,
    weights: Mapping[str, float],
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
) -> History:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-len(images) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=max(steps, 1), pct_start=0.1
    )
    history = History(val_acc={t: [] for t in labels})
    with Progress(transient=True) as progress:
        bar = progress.add_task("pretrain", total=steps)
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(images), generator=generator).numpy()
            running = 0.0
            for start in range(0, len(order), batch_size):
                idx = np.sort(order[start : start + batch_size])
                x = to_float_images(images[idx])
                y = {t: torch.from_numpy(v[idx]) for t, v in labels.items()}
                loss = _weighted_loss(model(x), y, weights)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                running += loss.item() * len(idx)
                progress.advance(bar)
            history.train_loss.append(running / len(images))
            val_loss, val_acc = evaluate(model, val_images, val_labels, weights, batch_size)
            history.val_loss.append(val_loss)
            for task, acc in val_acc.items():
                history.val_acc[task].append(acc)
    return history
