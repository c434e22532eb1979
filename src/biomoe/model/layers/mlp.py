"""Feed-forward layers: token MLPs (with and without a depth-wise conv) and a 1x1-conv FFN."""

from __future__ import annotations

from torch import Tensor, nn

from biomoe.model.layers.conv_bn import Conv2dBN


class Mlp(nn.Module):
    """``fc1 -> GELU -> fc2`` on tokens ``[B, N, C]``."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TokenDepthwiseConv(nn.Module):
    """3x3 depth-wise conv (with bias) applied to tokens laid out on a ``height x width`` grid."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim, bias=True)

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        b, _, c = x.shape
        grid = x.transpose(1, 2).reshape(b, c, height, width)
        return self.dwconv(grid).flatten(2).transpose(1, 2)


class ConvFFN(nn.Module):
    """PVTv2-style feed-forward: ``fc1 -> 3x3 depth-wise conv -> GELU -> fc2`` on tokens."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = TokenDepthwiseConv(hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        return self.fc2(self.act(self.dwconv(self.fc1(x), height, width)))


class PointwiseFFN(nn.Sequential):
    """EfficientViT feed-forward on feature maps: ``1x1 Conv2dBN -> ReLU -> 1x1 Conv2dBN``.

    The second BatchNorm starts at zero so a residual FFN starts as the identity.
    """

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.pw1 = Conv2dBN(dim, hidden_dim)
        self.act = nn.ReLU()
        self.pw2 = Conv2dBN(hidden_dim, dim, bn_weight_init=0.0)
