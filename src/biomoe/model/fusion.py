"""Weight algebra for inference: BatchNorm folded into convolutions, layers merged.

Every function returns new float32 tensors (computed in float64) and leaves the modules it
reads untouched, so an eager model can keep training after an optimised copy is made.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from biomoe.model.layers import Conv2dBN


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """``(weight, bias)`` of one conv equal to ``bn(conv(x))`` with ``bn`` in eval mode."""
    with torch.no_grad():
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        weight = conv.weight.double() * scale.view(-1, 1, 1, 1)
        bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
        bias = (bias - bn.running_mean.double()) * scale + bn.bias.double()
    return weight.float(), bias.float()


def fold_conv2d_bn(layer: Conv2dBN, scale: float = 1.0) -> tuple[Tensor, Tensor]:
    """EfficientViT's ``Conv2dBN`` (times ``scale``) as one conv's ``(weight, bias)``."""
    weight, bias = fold_batchnorm(layer.c, layer.bn)
    return weight * scale, bias * scale


def fold_depthwise_residual(layer: Conv2dBN) -> tuple[Tensor, Tensor]:
    """``x + layer(x)`` as one depth-wise conv: the identity is a 1 at each kernel's centre.

    ``layer`` must be a stride-1, 'same'-padded, odd-sized depth-wise ``Conv2dBN``.
    """
    conv = layer.c
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
    weight, bias = fold_batchnorm(conv, layer.bn)
    weight = weight.double()
    weight[:, 0, kh // 2, kw // 2] += 1.0
    return weight.float(), bias


def stack_linears(*layers: nn.Linear) -> tuple[Tensor, Tensor]:
    """``(weight, bias)`` of one linear whose output concatenates those of ``layers``."""
    weight = torch.cat([layer.weight.detach() for layer in layers])
    bias = torch.cat(
        [
            layer.bias.detach() if layer.bias is not None else torch.zeros(layer.out_features)
            for layer in layers
        ]
    )
    return weight, bias


def copy_layer_norm(norm: nn.LayerNorm) -> nn.LayerNorm:
    """A frozen copy of ``norm``."""
    out = nn.LayerNorm(norm.normalized_shape, eps=norm.eps, elementwise_affine=True)
    out.load_state_dict(norm.state_dict())
    return out.requires_grad_(False)
