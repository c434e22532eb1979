"""Expert 1: a four-stage SpectFormer (spectral gating in stages 1-2, attention in 3-4)
closed by class attention over ``[mean token, tokens]``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from biomoe.model.layers import (
    ClassAttentionBlock,
    ConvDownsample,
    ConvFFN,
    ConvStem,
    MultiHeadSelfAttention,
    SpectralGatingFilter,
)

NORM_EPS = 1e-6

TokenMixer = Literal["spectral", "attention"]


class SpectFormerBlock(nn.Module):
    """Pre-norm block: ``x + mixer(norm1(x))`` then ``x + ConvFFN(norm2(x))`` on a token grid."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        mixer: TokenMixer,
        grid: tuple[int, int],
    ) -> None:
        super().__init__()
        self.mixer = mixer
        self.norm1 = nn.LayerNorm(dim, eps=NORM_EPS)
        self.norm2 = nn.LayerNorm(dim, eps=NORM_EPS)
        self.attn: nn.Module = (
            SpectralGatingFilter(dim, *grid)
            if mixer == "spectral"
            else MultiHeadSelfAttention(dim, num_heads)
        )
        self.mlp = ConvFFN(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        y = self.norm1(x)
        x = x + (self.attn(y, height, width) if self.mixer == "spectral" else self.attn(y))
        return x + self.mlp(self.norm2(x), height, width)


def init_spectformer_weights(module: nn.Module) -> None:
    """SpectFormer's initialisation: truncated-normal linears, He-normal (fan-out) convs."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
        fan_out //= module.groups
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class SpectFormerExpert(nn.Module):
    """Image ``[B, 3, S, S]`` -> embedding ``[B, embed_dims[-1]]``.

    Stage ``i`` works on an ``S / 2**(i+2)`` token grid; the spectral filters are sized for it,
    so ``img_size`` must be divisible by 32. State-dict keys follow the published layout
    (``patch_embed{i}``, ``block{i}``, ``norm{i}``, ``post_network``).
    """

    def __init__(
        self,
        img_size: int = 224,
        in_channels: int = 3,
        stem_hidden_dim: int = 32,
        embed_dims: Sequence[int] = (64, 128, 320, 96),
        num_heads: Sequence[int] = (2, 4, 10, 16),
        mlp_ratios: Sequence[float] = (8, 8, 4, 4),
        depths: Sequence[int] = (1, 1, 1, 1),
        spectral_stages: int = 2,
    ) -> None:
        super().__init__()
        self.num_stages = len(embed_dims)
        if img_size % 2 ** (self.num_stages + 1):
            raise ValueError(
                f"img_size {img_size} must be divisible by {2 ** (self.num_stages + 1)}"
            )
        grid = img_size // 4
        for i in range(self.num_stages):
            patch_embed = (
                ConvStem(in_channels, stem_hidden_dim, embed_dims[0])
                if i == 0
                else ConvDownsample(embed_dims[i - 1], embed_dims[i])
            )
            mixer: TokenMixer = "spectral" if i < spectral_stages else "attention"
            blocks = nn.ModuleList(
                SpectFormerBlock(embed_dims[i], num_heads[i], mlp_ratios[i], mixer, (grid, grid))
                for _ in range(depths[i])
            )
            setattr(self, f"patch_embed{i + 1}", patch_embed)
            setattr(self, f"block{i + 1}", blocks)
            setattr(self, f"norm{i + 1}", nn.LayerNorm(embed_dims[i], eps=NORM_EPS))
            grid //= 2
        self.post_network = nn.ModuleList(
            [ClassAttentionBlock(embed_dims[-1], num_heads[-1], mlp_ratios[-1], eps=NORM_EPS)]
        )
        self.embed_dim = embed_dims[-1]
        self.apply(init_spectformer_weights)

    def stages(self) -> list[tuple[nn.Module, nn.ModuleList, nn.LayerNorm]]:
        """``(patch_embed{i}, block{i}, norm{i})`` of each stage, in order. The last stage's
        norm is applied to the class token, after ``post_network``."""
        return [
            (
                getattr(self, f"patch_embed{i}"),
                getattr(self, f"block{i}"),
                getattr(self, f"norm{i}"),
            )
            for i in range(1, self.num_stages + 1)
        ]

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        stages = self.stages()
        for i, (embed, blocks, norm) in enumerate(stages, 1):
            x, height, width = embed(x)
            for block in blocks:
                x = block(x, height, width)
            if i < len(stages):
                x = norm(x).reshape(b, height, width, -1).permute(0, 3, 1, 2).contiguous()
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)
        for block in self.post_network:
            x = block(x)
        return stages[-1][2](x[:, 0])
