"""Convolution + BatchNorm pair used throughout EfficientViT, and its folding into one conv."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """``(weight, bias)`` of one conv equal to ``bn(conv(x))`` with ``bn`` in eval mode.

    Computed in float64, returned as new float32 tensors; ``conv`` and ``bn`` are untouched.
    """
    with torch.no_grad():
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        weight = conv.weight.double() * scale.view(-1, 1, 1, 1)
        bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
        bias = (bias - bn.running_mean.double()) * scale + bn.bias.double()
    return weight.float(), bias.float()


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

    def fold(self, scale: float = 1.0) -> tuple[Tensor, Tensor]:
        """``(weight, bias)`` of one conv (with ``self.c``'s geometry) equal to ``scale * self``
        in eval mode."""
        weight, bias = fold_batchnorm(self.c, self.bn)
        return weight * scale, bias * scale

    def fold_residual(self) -> tuple[Tensor, Tensor]:
        """``(weight, bias)`` of one conv equal to ``x + self(x)`` in eval mode: the identity
        is a 1 at the centre of each kernel.

        Only for a stride-1, 'same'-padded, odd-sized depth-wise conv (else ``ValueError``).
        """
        conv = self.c
        kh, kw = conv.kernel_size
        channels = conv.in_channels
        if (
            conv.groups != channels
            or conv.out_channels != channels
            or conv.stride != (1, 1)
            or conv.padding != (kh // 2, kw // 2)
            or kh % 2 == 0
            or kw % 2 == 0
        ):
            raise ValueError(f"not a stride-1 same-padded depth-wise conv: {conv}")
        weight, bias = fold_batchnorm(conv, self.bn)
        weight = weight.double()
        weight[:, 0, kh // 2, kw // 2] += 1.0
        return weight.float(), bias
