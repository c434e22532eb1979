"""``FusedLinear`` and ``FusedConv2d`` compute what their plain-PyTorch forms compute."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tests.unit.model.inference.conftest import embed

from biomoe.model.inference.kernels import FusedConv2d, FusedLinear


@pytest.mark.parametrize("activation", ["none", "relu", "gelu"])
def test_fused_linear_matches_plain_pytorch(activation) -> None:
    generator = torch.Generator().manual_seed(3)
    weight, bias = torch.randn(6, 8, generator=generator), torch.randn(6, generator=generator)
    x = torch.randn(2, 3, 8, generator=generator)
    plain = F.linear(x, weight, bias)
    plain = {"none": plain, "relu": F.relu(plain), "gelu": F.gelu(plain)}[activation]
    layer = FusedLinear(weight, bias, activation)
    torch.testing.assert_close(embed(layer, x), plain, atol=1e-5, rtol=1e-5)
    if activation == "none":
        residual = torch.randn(2, 3, 6, generator=generator)
        with torch.inference_mode():
            fused = layer(x, residual)
        torch.testing.assert_close(fused, plain + residual, atol=1e-5, rtol=1e-5)
    else:
        with pytest.raises(ValueError, match="residual"):
            layer(x, x)


@pytest.mark.parametrize(("stride", "groups", "activation"), [(1, 1, "relu"), (2, 4, "gelu")])
def test_fused_conv_matches_plain_pytorch(stride, groups, activation) -> None:
    generator = torch.Generator().manual_seed(4)
    weight = torch.randn(8, 4 // groups, 3, 3, generator=generator)
    bias = torch.randn(8, generator=generator)
    x = torch.randn(2, 4, 9, 9, generator=generator).contiguous(memory_format=torch.channels_last)
    plain = F.conv2d(x, weight, bias, stride, 1, 1, groups)
    plain = F.relu(plain) if activation == "relu" else F.gelu(plain)
    layer = FusedConv2d(weight, bias, stride, 1, groups, activation)
    torch.testing.assert_close(embed(layer, x), plain, atol=1e-5, rtol=1e-5)
    nhwc = x.permute(0, 2, 3, 1)
    with torch.inference_mode():
        torch.testing.assert_close(
            layer.nhwc(nhwc), plain.permute(0, 2, 3, 1), atol=1e-5, rtol=1e-5
        )
