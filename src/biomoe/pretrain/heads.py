"""Task heads on the 192-D embedding, and the per-task losses of a batch."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from biomoe.model.spec import EMBED_DIM
from biomoe.model.tiny_biomoe import TinyBioMoE

NO_LABEL = -1
"""Label of an image that has none for a task; it adds nothing to that task's loss."""


class MultiTaskModel(nn.Module):
    """Tiny-BioMoE with one linear head per task; the backbone alone is what we publish."""

    def __init__(self, backbone: TinyBioMoE, classes_per_task: Mapping[str, int]) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleDict(
            {task: nn.Linear(EMBED_DIM, n) for task, n in classes_per_task.items()}
        )

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        embedding = self.backbone(images)
        return {task: head(embedding) for task, head in self.heads.items()}


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
