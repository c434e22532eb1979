"""``fold(layer)``: an eager layer's inference form, built from the layer itself.

BatchNorm is folded into the conv before it (``Conv2dBN.fold``, ``fold_batchnorm``), and
bias, activation and residual adds run as fused kernel epilogues (``biomoe.model.inference
.kernels``). Every returned module maps NHWC tensors ``[B, H, W, C]`` (the memory layout of a
channels-last map: a conv reads them through a free ``permute``; a 1x1 conv is a linear over
``C``) and holds frozen copies of the weights: the eager layer is left untouched, and the two
give equal outputs to float32 rounding.

Containers are folded child by child, so a block's structure is read from the eager block:
a ``Sequential`` keeps its order, with each conv taking the BatchNorm and ReLU after it as
its epilogue; a ``Residual`` around a depth-wise conv becomes one conv (the identity folded
into its kernel), around a branch ending in a linear has the add fused into that linear.
The token mixers and FFNs of a pre-norm SpectFormer block take ``(y, residual)`` and return
``residual + branch(y)``.
"""

from __future__ import annotations

import copy
from functools import singledispatch

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biomoe.model.inference.kernels import Activation, FusedConv2d, FusedLinear
from biomoe.model.layers import (
    CascadedGroupAttention,
    ClassAttentionBlock,
    Conv2dBN,
    ConvDownsample,
    ConvFFN,
    ConvStem,
    LocalWindowAttention,
    MultiHeadSelfAttention,
    Residual,
    SpectralGatingFilter,
    SqueezeExcite,
    fold_batchnorm,
    window_merge,
    window_partition,
)
from biomoe.model.spectformer import SpectFormerBlock


@singledispatch
def fold(layer: nn.Module) -> nn.Module:
    """``layer``'s inference form on NHWC tensors (see the module docstring)."""
    raise TypeError(f"no inference form of {type(layer).__name__}")


@fold.register(nn.ReLU)
@fold.register(nn.ELU)
@fold.register(nn.Hardtanh)
def _stateless(layer: nn.Module) -> nn.Module:
    return copy.deepcopy(layer)


@fold.register
def _layer_norm(norm: nn.LayerNorm) -> nn.LayerNorm:
    out = nn.LayerNorm(norm.normalized_shape, eps=norm.eps, elementwise_affine=True)
    out.load_state_dict(norm.state_dict())
    return out.requires_grad_(False)


@fold.register
def _linear(linear: nn.Linear) -> FusedLinear:
    return FusedLinear.of(linear)


class NHWCConv(nn.Module):
    """A ``FusedConv2d`` applied to NHWC maps."""

    def __init__(self, conv: FusedConv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: Tensor) -> Tensor:
        return self.conv.nhwc(x)


def _conv(
    conv: nn.Conv2d, weight: Tensor, bias: Tensor | None, activation: Activation = "none"
) -> FusedLinear | NHWCConv:
    """``conv``'s geometry with ``weight``/``bias`` on NHWC maps; a linear when it is 1x1."""
    if conv.kernel_size == conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1:
        return FusedLinear(weight.flatten(1), bias, activation)
    return NHWCConv(FusedConv2d.of(conv, weight, bias, activation))


def fold_conv(
    layer: Conv2dBN | nn.Conv2d,
    bn: nn.BatchNorm2d | None = None,
    activation: Activation = "none",
) -> FusedLinear | NHWCConv:
    """``activation(bn(layer(x)))`` as one fused conv (or linear) on NHWC maps."""
    if isinstance(layer, Conv2dBN):
        return _conv(layer.c, *layer.fold(), activation)
    weight, bias = (layer.weight, layer.bias) if bn is None else fold_batchnorm(layer, bn)
    return _conv(layer, weight, bias, activation)


fold.register(Conv2dBN, fold_conv)
fold.register(nn.Conv2d, fold_conv)


@fold.register
def _sequence(layers: nn.Sequential) -> nn.Sequential:
    todo = list(layers)
    done: list[nn.Module] = []
    while todo:
        layer = todo.pop(0)
        if not isinstance(layer, (Conv2dBN, nn.Conv2d)):
            done.append(fold(layer))
            continue
        bn = None
        if isinstance(layer, nn.Conv2d) and todo and isinstance(todo[0], nn.BatchNorm2d):
            bn = todo.pop(0)
        relu = bool(todo) and isinstance(todo[0], nn.ReLU)
        if relu:
            todo.pop(0)
        done.append(fold_conv(layer, bn, "relu" if relu else "none"))
    return nn.Sequential(*done)


class _ResidualIntoLinear(nn.Module):
    """``x + last(body(x))`` with the add fused into the linear ``last``."""

    def __init__(self, body: nn.Sequential, last: FusedLinear) -> None:
        super().__init__()
        self.body = body
        self.last = last

    def forward(self, x: Tensor) -> Tensor:
        return self.last(self.body(x), x)


@fold.register
def _residual(residual: Residual) -> nn.Module:
    if isinstance(residual.m, Conv2dBN):
        return NHWCConv(FusedConv2d.of(residual.m.c, *residual.m.fold_residual()))
    branch = fold(residual.m)
    if (
        isinstance(branch, nn.Sequential)
        and isinstance(branch[-1], FusedLinear)
        and branch[-1].activation == "none"
    ):
        return _ResidualIntoLinear(branch[:-1], branch[-1])
    return Residual(branch)


@fold.register(SqueezeExcite)
class _SqueezeExcite(nn.Module):
    def __init__(self, se: SqueezeExcite) -> None:
        super().__init__()
        self.fc1 = fold_conv(se.fc1, activation="relu")
        self.fc2 = fold_conv(se.fc2)

    def forward(self, x: Tensor) -> Tensor:
        gate = torch.sigmoid(self.fc2(self.fc1(x.mean(dim=(1, 2)))))
        return x * gate[:, None, None, :]


@fold.register(CascadedGroupAttention)
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
        self.qkvs = nn.ModuleList(fold(qkv) for qkv in attn.qkvs)
        self.dws = nn.ModuleList(_conv(dw.c, *dw.fold(attn.scale)) for dw in attn.dws)
        self.proj = fold(attn.proj)
        self.register_buffer("biases", attn.relative_biases().detach().float().clone())

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
            q = dw(q.reshape(b, r, r, -1)).reshape(b, n, -1)
            attn = torch.baddbmm(self.biases[i], q, k.transpose(1, 2)).softmax(dim=-1)
            feat = attn @ v
            feats_out.append(feat)
        return self.proj(torch.cat(feats_out, dim=-1))


@fold.register(LocalWindowAttention)
class _WindowAttention(nn.Module):
    """``LocalWindowAttention`` on an NHWC map."""

    def __init__(self, local: LocalWindowAttention) -> None:
        super().__init__()
        self.window = local.window_resolution
        self.attn = fold(local.attn)

    def forward(self, x: Tensor) -> Tensor:
        b, h, w, c = x.shape
        win = self.window
        if h <= win and w <= win:
            return self.attn(x.reshape(b, h * w, c)).view(b, h, w, c)
        windows = window_partition(x, win).reshape(-1, win * win, c)
        return window_merge(self.attn(windows).view(-1, win, win, c), h, w)


@fold.register
def _stem(stem: ConvStem) -> nn.Sequential:
    return nn.Sequential(*fold(stem.conv), fold(stem.proj), fold(stem.norm))


@fold.register
def _downsample(down: ConvDownsample) -> nn.Sequential:
    return nn.Sequential(fold(down.proj), fold(down.norm))


@fold.register(SpectralGatingFilter)
class _SpectralGating(nn.Module):
    def __init__(self, filt: SpectralGatingFilter) -> None:
        super().__init__()
        self.size = (filt.height, filt.width)
        weight = torch.view_as_complex(filt.complex_weight.detach().float().contiguous())
        self.register_buffer("weight", weight.clone())

    def forward(self, y: Tensor, residual: Tensor) -> Tensor:
        """The FFTs run in float32 whatever ``y``'s dtype; the result has ``residual``'s."""
        spectrum = torch.fft.rfft2(y.float(), dim=(1, 2), norm="ortho") * self.weight
        filtered = torch.fft.irfft2(spectrum, s=self.size, dim=(1, 2), norm="ortho")
        return residual + filtered.to(residual.dtype)


@fold.register(MultiHeadSelfAttention)
class _SelfAttention(nn.Module):
    """Multi-head attention with ``q`` and ``kv`` stacked into one projection."""

    def __init__(self, attn: MultiHeadSelfAttention) -> None:
        super().__init__()
        self.num_heads = attn.num_heads
        self.head_dim = attn.head_dim
        self.qkv = FusedLinear(*attn.fold_qkv())
        self.proj = fold(attn.proj)

    def forward(self, y: Tensor, residual: Tensor) -> Tensor:
        b, h, w, c = y.shape
        qkv = self.qkv(y).view(b, h * w, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, h, w, c)
        return self.proj(out, residual)


@fold.register(ConvFFN)
class _ConvFFN(nn.Module):
    def __init__(self, ffn: ConvFFN) -> None:
        super().__init__()
        self.fc1 = fold(ffn.fc1)
        self.dwconv = fold_conv(ffn.dwconv.dwconv, activation="gelu")
        self.fc2 = fold(ffn.fc2)

    def forward(self, y: Tensor, residual: Tensor) -> Tensor:
        return self.fc2(self.dwconv(self.fc1(y)), residual)


@fold.register(SpectFormerBlock)
class _SpectFormerBlock(nn.Module):
    def __init__(self, block: SpectFormerBlock) -> None:
        super().__init__()
        self.norm1 = fold(block.norm1)
        self.attn = fold(block.attn)
        self.norm2 = fold(block.norm2)
        self.mlp = fold(block.mlp)

    def forward(self, x: Tensor) -> Tensor:
        x = self.attn(self.norm1(x), x)
        return self.mlp(self.norm2(x), x)


class ClassHead(nn.Module):
    """``norm(block([mean token, tokens])[:, 0])`` for tokens ``[B, H, W, C]``: class
    attention where only the class token is computed."""

    def __init__(self, block: ClassAttentionBlock, norm: nn.LayerNorm) -> None:
        super().__init__()
        attn = block.attn
        self.num_heads = attn.num_heads
        self.head_dim = attn.head_dim
        self.norm1 = fold(block.norm1)
        self.kv = fold(attn.kv)
        self.q = fold(attn.q)
        self.proj = fold(attn.proj)
        self.norm2 = fold(block.norm2)
        self.fc1 = FusedLinear.of(block.mlp.fc1, activation="gelu")
        self.fc2 = fold(block.mlp.fc2)
        self.norm = fold(norm)

    def forward(self, x: Tensor) -> Tensor:
        b, h, w, c = x.shape
        x = x.reshape(b, h * w, c)
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)
        y = self.norm1(x)
        k, v = self.kv(y).view(b, -1, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q = self.q(y[:, :1]).view(b, 1, self.num_heads, self.head_dim).transpose(1, 2)
        cls = self.proj(F.scaled_dot_product_attention(q, k, v).reshape(b, c), x[:, 0])
        return self.norm(self.fc2(self.fc1(self.norm2(cls)), cls))
