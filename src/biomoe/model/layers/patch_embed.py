"""Stems and stride-2 downsamplers that turn images / feature maps into tokens."""

from __future__ import annotations

from torch import Tensor, nn

from biomoe.model.layers.conv_bn import Conv2dBN


def _to_tokens(x: Tensor) -> tuple[Tensor, int, int]:
    _, _, height, width = x.shape
    return x.flatten(2).transpose(1, 2), height, width


class ConvStem(nn.Module):
    """SpectFormer stem: 7x7/2 conv then two 3x3 convs (each BN + ReLU), a 3x3/2 projection
    and a LayerNorm. Downsamples by 4; returns tokens ``[B, H*W, out]`` and the grid ``H, W``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, hidden_channels, 7, 2, 3, bias=False),
            nn.BatchNorm2d(hidden_channels),
            nn.ReLU(),
            nn.Conv2d(hidden_channels, hidden_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(hidden_channels),
            nn.ReLU(),
            nn.Conv2d(hidden_channels, hidden_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(hidden_channels),
            nn.ReLU(),
        )
        self.proj = nn.Conv2d(hidden_channels, out_channels, 3, 2, 1)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: Tensor) -> tuple[Tensor, int, int]:
        tokens, height, width = _to_tokens(self.proj(self.conv(x)))
        return self.norm(tokens), height, width


class ConvDownsample(nn.Module):
    """3x3/2 conv + LayerNorm between SpectFormer stages: feature map in, tokens and grid out."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: Tensor) -> tuple[Tensor, int, int]:
        tokens, height, width = _to_tokens(self.proj(x))
        return self.norm(tokens), height, width


def conv_bn_patch_embed(in_channels: int, dim: int) -> nn.Sequential:
    """EfficientViT patch embedding: four 3x3/2 ``Conv2dBN`` (ReLU between), 16x downsampling,
    widths ``dim/8, dim/4, dim/2, dim``."""
    return nn.Sequential(
        Conv2dBN(in_channels, dim // 8, 3, 2, 1),
        nn.ReLU(),
        Conv2dBN(dim // 8, dim // 4, 3, 2, 1),
        nn.ReLU(),
        Conv2dBN(dim // 4, dim // 2, 3, 2, 1),
        nn.ReLU(),
        Conv2dBN(dim // 2, dim, 3, 2, 1),
    )
