"""Task heads on the 192-D embedding, and the per-task losses of a batch: cross-entropy for the
class tasks, a masked Huber loss for the regression (``morphology``) targets, InfoNCE across
a window's representations (``contrastive``, :mod:`.contrastive`) and the variance/covariance
terms on the embedding itself (``spread``, :mod:`.spread`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from biomoe.model.spec import EMBED_DIM
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.pretrain.contrastive import CONTRASTIVE, ProjectionHead, info_nce_sums
from biomoe.pretrain.params import SpreadParams
from biomoe.pretrain.spread import SPREAD, spread_sums
from biomoe.pretrain.targets import MORPHOLOGY

NO_LABEL = -1
"""Label of an image that has none for a task; it adds nothing to that task's loss."""


HUBER_DELTA = 1.0
"""Where the regression loss turns from quadratic to linear, in robust-scaled units (IQRs)."""


@dataclass(frozen=True)
class Views:
    """How a micro-batch's images group into windows for the contrastive task: ``count``
    consecutive images (one per representation) per window, and InfoNCE's ``temperature``."""

    count: int
    temperature: float


class MultiTaskModel(nn.Module):
    """Tiny-BioMoE with one head per task (``outputs_per_task``: classes of a class task,
    targets of a regression task, the projection size of the contrastive task: a linear head
    each, the contrastive one a :class:`~.contrastive.ProjectionHead`; the ``spread`` task
    reads the embedding itself, its count is ignored); the backbone alone is what we
    publish."""

    def __init__(self, backbone: TinyBioMoE, outputs_per_task: Mapping[str, int]) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleDict({task: _head(task, n) for task, n in outputs_per_task.items()})

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        embedding = self.backbone(images)
        return {task: head(embedding) for task, head in self.heads.items()}


def _head(task: str, outputs: int) -> nn.Module:
    if task == CONTRASTIVE:
        return ProjectionHead(outputs)
    if task == SPREAD:
        return nn.Identity()
    return nn.Linear(EMBED_DIM, outputs)


def at_least_fp32(tensor: Tensor) -> Tensor:
    """bf16/fp16 (autocast) -> fp32 for reductions; fp32 and fp64 stay as they are."""
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def task_sums(logits: Mapping[str, Tensor], labels: Tensor) -> tuple[Tensor, Tensor]:
    """Summed cross-entropy ``[T]`` (differentiable) and correct predictions ``[T]`` over the
    labelled images of a batch, for the tasks in ``logits`` order (``labels[:, t]``).

    Sums, not means: the trainer divides by the labelled count of the whole optimizer step, so
    a task without labels in a micro-batch adds exactly 0 and still reaches every parameter.
    """
    losses, correct = [], []
    for t, task_logits in enumerate(logits.values()):
        target = labels[:, t]
        task_logits = at_least_fp32(task_logits)
        losses.append(F.cross_entropy(task_logits, target, ignore_index=NO_LABEL, reduction="sum"))
        with torch.no_grad():
            hit = (task_logits.argmax(1) == target) & (target != NO_LABEL)
            correct.append(hit.sum())
    return torch.stack(losses), torch.stack(correct).to(torch.float64)


def regression_sums(predictions: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Summed Huber loss (differentiable), summed absolute error and the number of targets, over
    the finite entries of ``targets`` ``[B, F]`` (NaN: no target, adds exactly 0)."""
    predictions = at_least_fp32(predictions)
    known = torch.isfinite(targets)
    filled = torch.where(known, targets, torch.zeros_like(targets)).to(predictions.dtype)
    losses = F.huber_loss(predictions, filled, reduction="none", delta=HUBER_DELTA)
    loss = torch.where(known, losses, torch.zeros_like(losses)).sum()
    with torch.no_grad():
        error = torch.where(known, (predictions - filled).abs(), torch.zeros_like(losses)).sum()
    return loss, error.to(torch.float64), known.sum().to(torch.float64)


def target_counts(
    labels: Tensor,
    targets: Tensor,
    regression: bool,
    views: Views | None = None,
    spread: bool = False,
) -> Tensor:
    """Labelled images per class task ``[T]``, then (``regression``) the finite targets, then
    (``views``) the contrastive anchors: every image, when the batch holds two windows or more,
    then (``spread``) 1 for a batch of two images or more: its loss is a mean per batch."""
    counts = (labels != NO_LABEL).sum(0).to(torch.float64)
    if regression:
        counts = torch.cat([counts, torch.isfinite(targets).sum().to(torch.float64)[None]])
    if views is not None:
        anchors = labels.shape[0] if labels.shape[0] // views.count >= 2 else 0
        counts = torch.cat([counts, torch.tensor([float(anchors)], dtype=torch.float64)])
    if spread:
        batches = 1.0 if labels.shape[0] >= 2 else 0.0
        counts = torch.cat([counts, torch.tensor([batches], dtype=torch.float64)])
    return counts


def objective_sums(
    outputs: Mapping[str, Tensor],
    labels: Tensor,
    targets: Tensor,
    views: Views | None = None,
    spread: SpreadParams | None = None,
) -> tuple[Tensor, Tensor]:
    """Summed losses ``[T]`` (differentiable) and metric sums ``[T]`` (correct predictions of a
    class task, absolute error of the regression, retrieval hits of the contrastive task, the
    mean per-dimension standard deviation of ``spread``), for the tasks in ``outputs`` order:
    the class tasks (``labels[:, t]``), then ``morphology`` (``targets``), then ``contrastive``
    (images grouped by ``views``), then ``spread``, when they are there."""
    unlabelled = (MORPHOLOGY, CONTRASTIVE, SPREAD)
    classes = {task: out for task, out in outputs.items() if task not in unlabelled}
    losses: list[Tensor] = []
    metrics: list[Tensor] = []
    if classes:
        class_losses, correct = task_sums(classes, labels)
        losses.append(class_losses)
        metrics.append(correct)
    if MORPHOLOGY in outputs:
        loss, error, _ = regression_sums(outputs[MORPHOLOGY], targets)
        losses.append(loss[None])
        metrics.append(error[None])
    if CONTRASTIVE in outputs:
        if views is None:
            raise ValueError("the contrastive task needs the batch's views")
        loss, hits, _ = info_nce_sums(outputs[CONTRASTIVE], views.count, views.temperature)
        losses.append(loss[None])
        metrics.append(hits[None])
    if SPREAD in outputs:
        if spread is None:
            raise ValueError("the spread task needs its settings")
        loss, std, _ = spread_sums(outputs[SPREAD], spread)
        losses.append(loss[None])
        metrics.append(std[None])
    return torch.cat(losses), torch.cat(metrics)
