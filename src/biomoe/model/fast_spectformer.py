"""Inference-only SpectFormer expert: BatchNorm folded, tokens kept as one NHWC tensor.

Tokens live as ``[B, H, W, C]`` throughout, which is the memory layout of a channels-last
feature map: every conv reads and writes them through a free ``permute``, so the eager
expert's ``flatten/transpose/reshape`` copies disappear.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biomoe.model.fusion import copy_layer_norm, fold_batchnorm, stack_linears
from biomoe.model.kernels import FusedConv2d, FusedLinear
from biomoe.model.layers import (
    ClassAttentionBlock,
    ConvDownsample,
    ConvFFN,
    ConvStem,
    MultiHeadSelfAttention,
    SpectralGatingFilter,
)
from biomoe.model.spectformer import SpectFormerBlock, SpectFormerExpert


class _Stem(nn.Module):
    def __init__(self, stem: ConvStem) -> None:
        super().__init__()
        seq = stem.conv
        self.convs = nn.Sequential(
            *(
                FusedConv2d.of(seq[i], *fold_batchnorm(seq[i], seq[i + 1]), activation="relu")
                for i in (0, 3, 6)
            )
        )
        self.proj = FusedConv2d.of(stem.proj)
        self.norm = copy_layer_norm(stem.norm)

    def forward(self, x: Tensor) -> Tensor:
        """Channels-last image ``[B, 3, S, S]`` -> tokens ``[B, S/4, S/4, C]``."""
        return self.norm(self.proj(self.convs(x)).permute(0, 2, 3, 1))


class _Downsample(nn.Module):
    def __init__(self, down: ConvDownsample) -> None:
        super().__init__()
        self.proj = FusedConv2d.of(down.proj)
        self.norm = copy_layer_norm(down.norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.proj.nhwc(x))


class _SpectralGating(nn.Module):
    def __init__(self, filt: SpectralGatingFilter) -> None:
        super().__init__()
        self.size = (filt.height, filt.width)
        weight = torch.view_as_complex(filt.complex_weight.detach().float().contiguous())
        self.register_buffer("weight", weight.clone())

    def forward(self, y: Tensor, residual: Tensor) -> Tensor:
        spectrum = torch.fft.rfft2(y, dim=(1, 2), norm="ortho") * self.weight
        return residual + torch.fft.irfft2(spectrum, s=self.size, dim=(1, 2), norm="ortho")


class _SelfAttention(nn.Module):
    """Multi-head attention with ``q`` and ``kv`` stacked into one projection."""

    def __init__(self, attn: MultiHeadSelfAttention) -> None:
        super().__init__()
        self.num_heads = attn.num_heads
        self.head_dim = attn.head_dim
        self.qkv = FusedLinear(*stack_linears(attn.q, attn.kv))
        self.proj = FusedLinear.of(attn.proj)

    def forward(self, y: Tensor, residual: Tensor) -> Tensor:
        b, h, w, c = y.shape
        qkv = self.qkv(y).view(b, h * w, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, h, w, c)
        return self.proj(out, residual)


class _ConvFFN(nn.Module):
    def __init__(self, ffn: ConvFFN) -> None:
        super().__init__()
        self.fc1 = FusedLinear.of(ffn.fc1)
        self.dwconv = FusedConv2d.of(ffn.dwconv.dwconv, activation="gelu")
        self.fc2 = FusedLinear.of(ffn.fc2)

    def forward(self, y: Tensor, residual: Tensor) -> Tensor:
        return self.fc2(self.dwconv.nhwc(self.fc1(y)), residual)


class _Block(nn.Module):
    def __init__(self, block: SpectFormerBlock) -> None:
        super().__init__()
        self.norm1 = copy_layer_norm(block.norm1)
        self.norm2 = copy_layer_norm(block.norm2)
        self.mixer = (
            _SpectralGating(block.attn)
            if isinstance(block.attn, SpectralGatingFilter)
            else _SelfAttention(block.attn)
        )
        self.mlp = _ConvFFN(block.mlp)

    def forward(self, x: Tensor) -> Tensor:
        x = self.mixer(self.norm1(x), x)
        return self.mlp(self.norm2(x), x)


class _ClassHead(nn.Module):
    """Class attention over ``[mean token, tokens]``; only the class token is computed."""

    def __init__(self, block: ClassAttentionBlock, norm: nn.LayerNorm) -> None:
        super().__init__()
        attn = block.attn
        self.num_heads = attn.num_heads
        self.head_dim = attn.head_dim
        self.norm1 = copy_layer_norm(block.norm1)
        self.kv = FusedLinear.of(attn.kv)
        self.q = FusedLinear.of(attn.q)
        self.proj = FusedLinear.of(attn.proj)
        self.norm2 = copy_layer_norm(block.norm2)
        self.fc1 = FusedLinear.of(block.mlp.fc1, activation="gelu")
        self.fc2 = FusedLinear.of(block.mlp.fc2)
        self.norm = copy_layer_norm(norm)

    def forward(self, x: Tensor) -> Tensor:
        b, h, w, c = x.shape
        x = x.reshape(b, h * w, c)
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)
        y = self.norm1(x)
        k, v = self.kv(y).view(b, -1, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q = self.q(y[:, :1]).view(b, 1, self.num_heads, self.head_dim).transpose(1, 2)
        cls = self.proj(F.scaled_dot_product_attention(q, k, v).reshape(b, c), x[:, 0])
        return self.norm(self.fc2(self.fc1(self.norm2(cls)), cls))


class FastSpectFormer(nn.Module):
    """Channels-last image ``[B, 3, S, S]`` -> ``[B, 96]``, equal to ``SpectFormerExpert``."""

    def __init__(self, expert: SpectFormerExpert) -> None:
        super().__init__()
        stages = []
        for i in range(1, expert.num_stages + 1):
            embed = getattr(expert, f"patch_embed{i}")
            layers: list[nn.Module] = [_Stem(embed) if i == 1 else _Downsample(embed)]
            layers.extend(_Block(block) for block in getattr(expert, f"block{i}"))
            if i != expert.num_stages:
                layers.append(copy_layer_norm(getattr(expert, f"norm{i}")))
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        norm = getattr(expert, f"norm{expert.num_stages}")
        (post,) = expert.post_network
        self.head = _ClassHead(post, norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.stages(x))
