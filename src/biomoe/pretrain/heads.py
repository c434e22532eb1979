"""Task heads on the 192-D embedding and the backbone+heads module trained in pretraining."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from biomoe.model import EMBED_DIM, TinyBioMoE


class MultiTaskModel(nn.Module):
    """Tiny-BioMoE with one linear head per task; the backbone alone is what we publish."""

    def __init__(self, backbone: TinyBioMoE, classes_per_task: Mapping[str, int]) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleDict(
            {task: nn.Linear(EMBED_DIM, n) for task, n in classes_per_task.items()}
        )

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        embedding = self.backbone(images)
        return {task: head(embedding) for task, head in self.heads.items()}
