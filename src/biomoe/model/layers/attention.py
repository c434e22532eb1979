"""Multi-head self-attention over tokens (SpectFormer stages 3-4)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MultiHeadSelfAttention(nn.Module):
    """Standard scaled dot-product attention with separate ``q`` and fused ``kv`` projections."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        q = self.q(x).reshape(b, n, self.num_heads, self.head_dim).permute(0, 2, 1, 3)
        kv = self.kv(x).reshape(b, n, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        k, v = kv.unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))

    def fold_qkv(self) -> tuple[Tensor, Tensor]:
        """``(weight, bias)`` of one linear whose output is ``q(x)`` then ``kv(x)``."""
        with torch.no_grad():
            weight = torch.cat([self.q.weight, self.kv.weight])
            bias = torch.cat([self.q.bias, self.kv.bias])
        return weight, bias
