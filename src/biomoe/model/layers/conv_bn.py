"""Convolution + BatchNorm pair used throughout EfficientViT."""

from __future__ import annotations

from torch import nn


class Conv2dBN(nn.Sequential):
    """Bias-free ``Conv2d`` followed by ``BatchNorm2d`` (state-dict keys ``c.*`` and ``bn.*``).

    ``bn_weight_init=0`` makes a residual branch start as the identity mapping.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        bn_weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        self.c = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)
        nn.init.constant_(self.bn.weight, bn_weight_init)
        nn.init.zeros_(self.bn.bias)
