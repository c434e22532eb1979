"""Residual wrapper whose only child is named ``m`` (the EfficientViT key layout)."""

from __future__ import annotations

from torch import Tensor, nn


class Residual(nn.Module):
    """``x + m(x)``."""

    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, x: Tensor) -> Tensor:
        return x + self.m(x)
