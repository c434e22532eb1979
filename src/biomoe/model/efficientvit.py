"""Expert 2: an EfficientViT (cascaded group attention, memory-efficient sandwich blocks)
ending in global average pooling."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from biomoe.model.layers import (
    Conv2dBN,
    LocalWindowAttention,
    PatchMerging,
    PointwiseFFN,
    Residual,
    conv_bn_patch_embed,
)

PATCH_SIZE = 16


def _depthwise_residual(dim: int, bn_weight_init: float = 1.0) -> Residual:
    return Residual(Conv2dBN(dim, dim, 3, 1, 1, groups=dim, bn_weight_init=bn_weight_init))


def _ffn_residual(dim: int) -> Residual:
    return Residual(PointwiseFFN(dim, dim * 2))


class EfficientViTBlock(nn.Sequential):
    """Sandwich block: depth-wise conv, FFN, windowed attention, depth-wise conv, FFN (all
    residual)."""

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int,
        resolution: int,
        window_resolution: int,
        kernels: Sequence[int],
    ) -> None:
        super().__init__()
        self.dw0 = _depthwise_residual(dim, bn_weight_init=0.0)
        self.ffn0 = _ffn_residual(dim)
        self.mixer = Residual(
            LocalWindowAttention(dim, key_dim, num_heads, resolution, window_resolution, kernels)
        )
        self.dw1 = _depthwise_residual(dim, bn_weight_init=0.0)
        self.ffn1 = _ffn_residual(dim)


class EfficientViTExpert(nn.Module):
    """Image ``[B, 3, S, S]`` -> embedding ``[B, embed_dims[-1]]``.

    Stage 1 runs at ``S / 16``; each later stage is entered through ``[dw + FFN, PatchMerging,
    dw + FFN]`` which halves the resolution (rounding up). State-dict keys follow the published
    layout (``patch_embed``, ``blocks1..3``).
    """

    def __init__(
        self,
        img_size: int = 224,
        in_channels: int = 3,
        embed_dims: Sequence[int] = (192, 288, 96),
        key_dim: int = 16,
        depths: Sequence[int] = (1, 1, 1),
        num_heads: Sequence[int] = (3, 3, 4),
        window_resolution: int = 7,
        kernels: Sequence[int] = (7, 5, 3, 3),
    ) -> None:
        super().__init__()
        if img_size % PATCH_SIZE:
            raise ValueError(f"img_size {img_size} must be divisible by {PATCH_SIZE}")
        self.patch_embed = conv_bn_patch_embed(in_channels, embed_dims[0])
        resolution = img_size // PATCH_SIZE
        for i, dim in enumerate(embed_dims):
            stage: list[nn.Module] = []
            if i > 0:
                prev = embed_dims[i - 1]
                stage.append(nn.Sequential(_depthwise_residual(prev), _ffn_residual(prev)))
                stage.append(PatchMerging(prev, dim))
                resolution = (resolution - 1) // 2 + 1
                stage.append(nn.Sequential(_depthwise_residual(dim), _ffn_residual(dim)))
            heads = num_heads[i]
            stage.extend(
                EfficientViTBlock(dim, key_dim, heads, resolution, window_resolution, kernels)
                for _ in range(depths[i])
            )
            setattr(self, f"blocks{i + 1}", nn.Sequential(*stage))
        self.num_stages = len(embed_dims)
        self.embed_dim = embed_dims[-1]

    def stages(self) -> list[nn.Sequential]:
        """``blocks1 .. blocksN``, in order."""
        return [getattr(self, f"blocks{i}") for i in range(1, self.num_stages + 1)]

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x)
        for stage in self.stages():
            x = stage(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)
