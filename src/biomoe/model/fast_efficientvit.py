"""Inference-only EfficientViT expert: BatchNorm folded, attention biases precomputed.

Feature maps live as NHWC tensors ``[B, H, W, C]``: 1x1 ``Conv2dBN`` layers become linears,
depth-wise convs read them as channels-last maps through a free ``permute``, and a depth-wise
residual ``x + dw(x)`` is one conv with the identity folded into its kernel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biomoe.model.efficientvit import EfficientViTBlock, EfficientViTExpert
from biomoe.model.fusion import fold_conv2d_bn, fold_depthwise_residual
from biomoe.model.kernels import Activation, FusedConv2d, FusedLinear
from biomoe.model.layers import (
    CascadedGroupAttention,
    Conv2dBN,
    LocalWindowAttention,
    PatchMerging,
    PointwiseFFN,
    Residual,
)


def _pointwise(layer: Conv2dBN, activation: Activation = "none") -> FusedLinear:
    """A 1x1 ``Conv2dBN`` as a linear over the channel axis."""
    weight, bias = fold_conv2d_bn(layer)
    return FusedLinear(weight.flatten(1), bias, activation)


def _conv(layer: Conv2dBN, activation: Activation = "none", scale: float = 1.0) -> FusedConv2d:
    return FusedConv2d.of(layer.c, *fold_conv2d_bn(layer, scale), activation=activation)


class _DepthwiseResidual(nn.Module):
    def __init__(self, residual: Residual) -> None:
        super().__init__()
        self.conv = FusedConv2d.of(residual.m.c, *fold_depthwise_residual(residual.m))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv.nhwc(x)


class _FFNResidual(nn.Module):
    def __init__(self, residual: Residual) -> None:
        super().__init__()
        ffn: PointwiseFFN = residual.m
        self.pw1 = _pointwise(ffn.pw1, "relu")
        self.pw2 = _pointwise(ffn.pw2)

    def forward(self, x: Tensor) -> Tensor:
        return self.pw2(self.pw1(x), x)


class _CascadedAttention(nn.Module):
    """Cascaded group attention on the tokens ``[B, r*r, C]`` of ``r x r`` windows.

    The relative-position biases are gathered once and the logit scale is folded into the
    query convs.
    """

    def __init__(self, attn: CascadedGroupAttention) -> None:
        super().__init__()
        self.num_heads = attn.num_heads
        self.resolution = attn.resolution
        self.splits = [attn.key_dim, attn.key_dim, attn.value_dim]
        self.qkvs = nn.ModuleList(_pointwise(qkv) for qkv in attn.qkvs)
        self.dws = nn.ModuleList(_conv(dw, scale=attn.scale) for dw in attn.dws)
        self.proj = _pointwise(attn.proj[1])
        biases = attn.attention_biases.detach()[:, attn.attention_bias_idxs].float()
        self.register_buffer("biases", biases.clone())

    def forward(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        r = self.resolution
        feats_in = x.chunk(self.num_heads, dim=-1)
        feats_out = []
        feat = feats_in[0]
        for i, (qkv, dw) in enumerate(zip(self.qkvs, self.dws, strict=True)):
            if i > 0:
                feat = feat + feats_in[i]
            q, k, v = qkv(feat).split(self.splits, dim=-1)
            q = dw.nhwc(q.reshape(b, r, r, -1)).reshape(b, n, -1)
            attn = torch.baddbmm(self.biases[i], q, k.transpose(1, 2)).softmax(dim=-1)
            feat = attn @ v
            feats_out.append(feat)
        return self.proj(F.relu(torch.cat(feats_out, dim=-1)))


class _WindowAttention(nn.Module):
    """``x + LocalWindowAttention(x)`` on an NHWC map."""

    def __init__(self, residual: Residual) -> None:
        super().__init__()
        local: LocalWindowAttention = residual.m
        self.window = local.window_resolution
        self.attn = _CascadedAttention(local.attn)

    def forward(self, x: Tensor) -> Tensor:
        b, h, w, c = x.shape
        win = self.window
        if h <= win and w <= win:
            return x + self.attn(x.reshape(b, h * w, c)).view(b, h, w, c)
        pad_b, pad_r = (win - h % win) % win, (win - w % win) % win
        padded = F.pad(x, (0, 0, 0, pad_r, 0, pad_b)) if pad_b or pad_r else x
        nh, nw = (h + pad_b) // win, (w + pad_r) // win
        windows = (
            padded.view(b, nh, win, nw, win, c).transpose(2, 3).reshape(b * nh * nw, win * win, c)
        )
        out = (
            self.attn(windows)
            .view(b, nh, nw, win, win, c)
            .transpose(2, 3)
            .reshape(b, nh * win, nw * win, c)
        )
        return x + out[:, :h, :w]


class _PatchMerging(nn.Module):
    def __init__(self, merge: PatchMerging) -> None:
        super().__init__()
        self.conv1 = _pointwise(merge.conv1, "relu")
        self.conv2 = _conv(merge.conv2, "relu")
        self.se1 = FusedLinear.of(merge.se.fc1, "relu")
        self.se2 = FusedLinear.of(merge.se.fc2)
        self.conv3 = _pointwise(merge.conv3)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv2.nhwc(self.conv1(x))
        gate = torch.sigmoid(self.se2(self.se1(x.mean(dim=(1, 2)))))
        return self.conv3(x * gate[:, None, None, :])


def _fast_block(block: EfficientViTBlock) -> nn.Sequential:
    return nn.Sequential(
        _DepthwiseResidual(block.dw0),
        _FFNResidual(block.ffn0),
        _WindowAttention(block.mixer),
        _DepthwiseResidual(block.dw1),
        _FFNResidual(block.ffn1),
    )


def _fast_layer(layer: nn.Module) -> nn.Module:
    if isinstance(layer, EfficientViTBlock):
        return _fast_block(layer)
    if isinstance(layer, PatchMerging):
        return _PatchMerging(layer)
    if isinstance(layer, nn.Sequential):
        dw, ffn = layer
        return nn.Sequential(_DepthwiseResidual(dw), _FFNResidual(ffn))
    raise TypeError(f"no fast version of {type(layer).__name__}")


class FastEfficientViT(nn.Module):
    """Channels-last image ``[B, 3, S, S]`` -> ``[B, 96]``, equal to ``EfficientViTExpert``."""

    def __init__(self, expert: EfficientViTExpert) -> None:
        super().__init__()
        convs = [m for m in expert.patch_embed if isinstance(m, Conv2dBN)]
        self.patch_embed = nn.Sequential(
            *(_conv(conv, "relu" if i < len(convs) - 1 else "none") for i, conv in enumerate(convs))
        )
        self.blocks = nn.Sequential(
            *(
                _fast_layer(layer)
                for i in range(1, expert.num_stages + 1)
                for layer in getattr(expert, f"blocks{i}")
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.patch_embed(x).permute(0, 2, 3, 1)).mean(dim=(1, 2))
