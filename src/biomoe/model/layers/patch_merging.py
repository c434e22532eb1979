"""EfficientViT stride-2 downsampling block (inverted residual with squeeze-excite)."""

from __future__ import annotations

from torch import nn

from biomoe.model.layers.conv_bn import Conv2dBN
from biomoe.model.layers.squeeze_excite import SqueezeExcite


class PatchMerging(nn.Sequential):
    """``1x1 expand (x4) -> ReLU -> 3x3/2 depth-wise -> ReLU -> SE -> 1x1 project``; halves H, W."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        hidden = dim * 4
        self.conv1 = Conv2dBN(dim, hidden)
        self.act1 = nn.ReLU()
        self.conv2 = Conv2dBN(hidden, hidden, 3, 2, 1, groups=hidden)
        self.act2 = nn.ReLU()
        self.se = SqueezeExcite(hidden, 0.25)
        self.conv3 = Conv2dBN(hidden, out_dim)
