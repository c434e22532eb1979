"""Pain heads behind one interface: fit on fused embeddings, give class probabilities, save, load.

``mlp``: the ``PainHead`` network, class-weighted cross-entropy, AdamW, early stopping on held-out
training subjects. ``logistic``: scikit-learn's multinomial logistic regression on standardised
features, saved as plain arrays (no pickle) and applied with numpy. Both are seeded from params.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from biomoe.classify.head import PainHead
from biomoe.classify.params import TrainParams
from biomoe.io import atomic_path
from biomoe.seeding import seed_everything

MLP_FILE = "head.pt"
LOGISTIC_FILE = "head.npz"


class FittedHead(Protocol):
    kind: str

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """[n, d] features -> [n, classes] probabilities (rows sum to 1)."""
        ...

    def save(self, out_dir: Path) -> dict[str, Any]:
        """Write the weights into ``out_dir``; return what the card needs to rebuild the head."""
        ...


@dataclass
class Curves:
    """Per-epoch losses; ``best_epoch`` is the one whose weights were kept (1-based)."""

    train: list[float] = field(default_factory=list)
    early_stopping: list[float] = field(default_factory=list)
    best_epoch: int = 0

    def as_dict(self) -> dict[str, list[float]]:
        curves = {"train loss": self.train}
        if self.early_stopping:
            curves["early-stopping loss"] = self.early_stopping
        return curves


def class_weights(y: np.ndarray, n_classes: int, mode: str) -> np.ndarray:
    """``balanced``: n / (classes * count) per class (sklearn's rule); ``none``: all ones."""
    if mode == "none":
        return np.ones(n_classes)
    counts = np.maximum(np.bincount(y, minlength=n_classes), 1).astype(np.float64)
    return counts.sum() / (n_classes * counts)


class MlpHead:
    kind = "mlp"

    def __init__(self, module: PainHead) -> None:
        self.module = module.eval()

    @torch.no_grad()
    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        logits = self.module.eval()(torch.from_numpy(np.asarray(features, dtype=np.float32)))
        return torch.softmax(logits, dim=1).numpy()

    def save(self, out_dir: Path) -> dict[str, Any]:
        with atomic_path(out_dir / MLP_FILE) as tmp, open(tmp, "wb") as handle:
            torch.save(self.module.state_dict(), handle)  # a handle keeps the temp name out
        first = self.module.net[0]
        return {
            "in_dim": int(first.in_features),
            "hidden": int(first.out_features),
            "dropout": float(self.module.net[2].p),
        }

    @classmethod
    def load(cls, out_dir: Path, card: dict[str, Any]) -> MlpHead:
        module = PainHead(card["in_dim"], card["hidden"], len(card["labels"]), card["dropout"])
        state = torch.load(out_dir / MLP_FILE, map_location="cpu", weights_only=True)
        module.load_state_dict(state, strict=True)
        return cls(module)


@dataclass
class LogisticHead:
    """softmax(((x - mean) / scale) @ coef.T + intercept), computed in float64."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    kind: str = "logistic"

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        logits = z @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        expo = np.exp(logits)
        return (expo / expo.sum(axis=1, keepdims=True)).astype(np.float32)

    def save(self, out_dir: Path) -> dict[str, Any]:
        with atomic_path(out_dir / LOGISTIC_FILE) as tmp, open(tmp, "wb") as handle:
            np.savez(
                handle, mean=self.mean, scale=self.scale, coef=self.coef, intercept=self.intercept
            )
        return {"in_dim": int(self.mean.shape[0])}

    @classmethod
    def load(cls, out_dir: Path, card: dict[str, Any]) -> LogisticHead:
        with np.load(out_dir / LOGISTIC_FILE, allow_pickle=False) as saved:
            return cls(saved["mean"], saved["scale"], saved["coef"], saved["intercept"])


def load_head(out_dir: Path, card: dict[str, Any]) -> FittedHead:
    kind = card.get("head", "mlp")
    return {"mlp": MlpHead, "logistic": LogisticHead}[kind].load(out_dir, card)


def fit_head(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, params: TrainParams, n_classes: int
) -> tuple[FittedHead, Curves]:
    """Fit the head ``params.head`` names on ``x`` [n, d], labels ``y`` and subjects ``groups``."""
    if params.head == "logistic":
        return fit_logistic(x, y, params, n_classes), Curves()
    return fit_mlp(x, y, groups, params, n_classes)


def fit_logistic(x: np.ndarray, y: np.ndarray, params: TrainParams, n_classes: int) -> LogisticHead:
    x = np.asarray(x, dtype=np.float64)
    mean, scale = x.mean(0), np.maximum(x.std(0), 1e-6)
    weights = class_weights(y, n_classes, params.class_weight)
    model = LogisticRegression(
        C=params.logistic.C,
        max_iter=params.logistic.max_iter,
        class_weight={c: float(w) for c, w in enumerate(weights)},
        random_state=params.seed,
    )
    model.fit((x - mean) / scale, y)
    coef = np.zeros((n_classes, x.shape[1]))
    intercept = np.full(n_classes, -1e9)  # a class absent from training is never predicted
    coef[model.classes_], intercept[model.classes_] = _multiclass(model)
    return LogisticHead(mean, scale, coef, intercept)


def _multiclass(model: LogisticRegression) -> tuple[np.ndarray, np.ndarray]:
    """(coef, intercept) with one row per fitted class (sklearn keeps one row for 2 classes)."""
    if len(model.classes_) == 2:
        half_coef, half_bias = model.coef_[0] / 2, model.intercept_[0] / 2
        return np.stack([-half_coef, half_coef]), np.array([-half_bias, half_bias])
    return model.coef_, model.intercept_


def early_stopping_subjects(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A seeded choice of ``fraction`` of the subjects (at least one, never all) to stop on."""
    subjects = np.unique(groups)
    if len(subjects) < 2:
        return np.zeros(len(groups), dtype=bool)
    n_held = min(max(1, round(fraction * len(subjects))), len(subjects) - 1)
    held = np.random.default_rng(seed).permutation(subjects)[:n_held]
    return np.isin(groups, held)


def fit_mlp(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, params: TrainParams, n_classes: int
) -> tuple[MlpHead, Curves]:
    """Mini-batch AdamW; with ``patience`` > 0, the weights of the epoch with the lowest loss on
    the held-out subjects are kept and training stops ``patience`` epochs after it."""
    mlp = params.mlp
    seed_everything(params.seed)
    held = (
        early_stopping_subjects(groups, mlp.early_stopping_fraction, params.seed)
        if mlp.patience > 0
        else np.zeros(len(y), dtype=bool)
    )
    x_fit = torch.from_numpy(np.asarray(x[~held], dtype=np.float32))
    y_fit = torch.from_numpy(np.asarray(y[~held], dtype=np.int64))
    x_stop = torch.from_numpy(np.asarray(x[held], dtype=np.float32))
    y_stop = torch.from_numpy(np.asarray(y[held], dtype=np.int64))
    module = PainHead(x.shape[1], mlp.hidden, n_classes, mlp.dropout)
    module.fit_standardisation(x_fit)
    weights = torch.from_numpy(class_weights(y_fit.numpy(), n_classes, params.class_weight))
    loss_fn = nn.CrossEntropyLoss(weight=weights.float())
    optimizer = torch.optim.AdamW(module.parameters(), lr=mlp.lr, weight_decay=mlp.weight_decay)
    generator = torch.Generator().manual_seed(params.seed)
    curves, best_loss, best_state = Curves(), float("inf"), None
    for epoch in range(1, mlp.max_epochs + 1):
        module.train()
        order = torch.randperm(len(x_fit), generator=generator)
        total = 0.0
        for start in range(0, len(x_fit), mlp.batch_size):
            idx = order[start : start + mlp.batch_size]
            loss = loss_fn(module(x_fit[idx]), y_fit[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        curves.train.append(total / len(x_fit))
        if not len(x_stop):
            curves.best_epoch = epoch
            continue
        with torch.no_grad():
            stop_loss = float(loss_fn(module.eval()(x_stop), y_stop))
        curves.early_stopping.append(stop_loss)
        if stop_loss < best_loss:
            best_loss, best_state, curves.best_epoch = (
                stop_loss,
                copy.deepcopy(module.state_dict()),
                epoch,
            )
        elif epoch - curves.best_epoch >= mlp.patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    return MlpHead(module), curves
