"""EfficientViT token mixers: cascaded group attention inside local windows."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biomoe.model.layers.conv_bn import Conv2dBN


def relative_offset_index(resolution: int) -> tuple[int, Tensor]:
    """Index of the absolute 2-D offset between every pair of points on a square grid.

    Returns ``(number of distinct offsets, int64 [N, N])`` with ``N = resolution**2``; offsets
    are numbered in order of first appearance when scanning pairs in row-major order.
    """
    points = list(itertools.product(range(resolution), range(resolution)))
    offsets: dict[tuple[int, int], int] = {}
    idxs = []
    for p1 in points:
        for p2 in points:
            offset = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
            idxs.append(offsets.setdefault(offset, len(offsets)))
    n = len(points)
    return len(offsets), torch.tensor(idxs, dtype=torch.int64).view(n, n)


def window_partition(x: Tensor, window: int) -> Tensor:
    """NHWC map ``[B, H, W, C]`` -> its ``window x window`` tiles ``[B * nH * nW, window,
    window, C]`` in row-major order, the map zero-padded at the bottom and right to whole tiles.
    """
    b, h, w, c = x.shape
    pad_b, pad_r = (window - h % window) % window, (window - w % window) % window
    if pad_b or pad_r:
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    nh, nw = (h + pad_b) // window, (w + pad_r) // window
    return (
        x.view(b, nh, window, nw, window, c).transpose(2, 3).reshape(b * nh * nw, window, window, c)
    )


def window_merge(windows: Tensor, height: int, width: int) -> Tensor:
    """Inverse of ``window_partition`` for a ``height x width`` map: tiles -> ``[B, H, W, C]``."""
    n, window, _, c = windows.shape
    nh, nw = -(-height // window), -(-width // window)
    b = n // (nh * nw)
    merged = windows.view(b, nh, nw, window, window, c).transpose(2, 3)
    return merged.reshape(b, nh * window, nw * window, c)[:, :height, :width]


class CascadedGroupAttention(nn.Module):
    """Each head attends over its own channel split; head ``i`` also receives head ``i-1``'s
    output (the cascade). Queries pass a depth-wise conv of ``kernels[i]``; a learned bias per
    head and relative offset is added to the logits. Input ``[B, dim, r, r]`` with
    ``r = resolution``.
    """

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int,
        resolution: int,
        kernels: Sequence[int],
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        if len(kernels) < num_heads:
            raise ValueError(f"need one query kernel per head ({num_heads}), got {list(kernels)}")
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = dim // num_heads
        self.scale = key_dim**-0.5
        self.resolution = resolution
        self.qkvs = nn.ModuleList(
            Conv2dBN(self.value_dim, 2 * key_dim + self.value_dim) for _ in range(num_heads)
        )
        self.dws = nn.ModuleList(
            Conv2dBN(key_dim, key_dim, k, 1, k // 2, groups=key_dim) for k in kernels[:num_heads]
        )
        self.proj = nn.Sequential(
            nn.ReLU(), Conv2dBN(self.value_dim * num_heads, dim, bn_weight_init=0.0)
        )
        num_offsets, idxs = relative_offset_index(resolution)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, num_offsets))
        self.register_buffer("attention_bias_idxs", idxs)

    def relative_biases(self) -> Tensor:
        """The logit bias of every head and pair of positions, ``[num_heads, r*r, r*r]``."""
        return self.attention_biases[:, self.attention_bias_idxs]

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        biases = self.relative_biases()
        feats_in = x.chunk(self.num_heads, dim=1)
        feats_out = []
        feat = feats_in[0]
        for i, (qkv, dw) in enumerate(zip(self.qkvs, self.dws, strict=True)):
            if i > 0:
                feat = feat + feats_in[i]
            q, k, v = qkv(feat).split([self.key_dim, self.key_dim, self.value_dim], dim=1)
            q = dw(q).flatten(2)
            k, v = k.flatten(2), v.flatten(2)
            attn = ((q.transpose(-2, -1) @ k) * self.scale + biases[i]).softmax(dim=-1)
            feat = (v @ attn.transpose(-2, -1)).view(b, self.value_dim, h, w)
            feats_out.append(feat)
        return self.proj(torch.cat(feats_out, dim=1))


class LocalWindowAttention(nn.Module):
    """Cascaded group attention applied in non-overlapping ``window x window`` tiles of a
    ``resolution x resolution`` map (zero-padded to whole windows); a map no larger than one
    window is attended as a whole.
    """

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
        if window_resolution <= 0:
            raise ValueError(f"window_resolution must be positive, got {window_resolution}")
        self.resolution = resolution
        self.window_resolution = window_resolution
        self.attn = CascadedGroupAttention(
            dim, key_dim, num_heads, min(window_resolution, resolution), kernels
        )

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2:]
        if (h, w) != (self.resolution, self.resolution):
            raise ValueError(
                f"expected a {self.resolution}x{self.resolution} feature map, got {h}x{w}"
            )
        win = self.window_resolution
        if h <= win and w <= win:
            return self.attn(x)
        windows = window_partition(x.permute(0, 2, 3, 1), win).permute(0, 3, 1, 2)
        return window_merge(self.attn(windows).permute(0, 2, 3, 1), h, w).permute(0, 3, 1, 2)
