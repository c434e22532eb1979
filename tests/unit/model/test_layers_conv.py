"""Conv2dBN (and its folding), Residual, PointwiseFFN, SqueezeExcite, PatchMerging, patch
embeddings."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from biomoe.model.layers import (
    Conv2dBN,
    ConvDownsample,
    ConvStem,
    PatchMerging,
    PointwiseFFN,
    Residual,
    SqueezeExcite,
    conv_bn_patch_embed,
    fold_batchnorm,
    make_divisible,
)


def test_conv2d_bn_keys_and_eval_math() -> None:
    torch.manual_seed(0)
    layer = Conv2dBN(4, 6, 3, 2, 1)
    assert [k for k in layer.state_dict() if k.endswith("weight")] == ["c.weight", "bn.weight"]
    assert layer.c.bias is None
    layer.bn.running_mean.uniform_(-1, 1)
    layer.bn.running_var.uniform_(0.5, 2)
    layer.eval()
    x = torch.randn(2, 4, 9, 9)
    bn = layer.bn
    expected = F.conv2d(x, layer.c.weight, stride=2, padding=1)
    expected = (expected - bn.running_mean[:, None, None]) / torch.sqrt(
        bn.running_var[:, None, None] + bn.eps
    ) * bn.weight[:, None, None] + bn.bias[:, None, None]
    torch.testing.assert_close(layer(x), expected)
    assert layer(x).shape == (2, 6, 5, 5)


def test_zero_initialised_residual_branches_start_as_identity() -> None:
    x = torch.randn(2, 8, 5, 5)
    ffn = Residual(PointwiseFFN(8, 16)).eval()
    dw = Residual(Conv2dBN(8, 8, 3, 1, 1, groups=8, bn_weight_init=0.0)).eval()
    torch.testing.assert_close(ffn(x), x)
    torch.testing.assert_close(dw(x), x)


def test_make_divisible() -> None:
    assert make_divisible(192) == 192
    assert make_divisible(3) == 8
    assert make_divisible(20) == 24


def test_squeeze_excite_scales_channels_into_zero_one() -> None:
    torch.manual_seed(0)
    se = SqueezeExcite(768, 0.25)
    assert se.fc1.out_channels == 192
    x = torch.rand(2, 768, 4, 4) + 0.1
    scale = se(x) / x
    assert scale.shape == x.shape
    assert bool(((scale > 0) & (scale < 1)).all())
    # one scale per (sample, channel): constant over space
    torch.testing.assert_close(scale, scale[:, :, :1, :1].expand_as(scale))


@pytest.mark.parametrize(("size", "out"), [(14, 7), (7, 4), (2, 1)])
def test_patch_merging_halves_resolution_rounding_up(size: int, out: int) -> None:
    merge = PatchMerging(8, 12).eval()
    assert merge(torch.randn(2, 8, size, size)).shape == (2, 12, out, out)


def test_stems_downsample_to_tokens() -> None:
    tokens, h, w = ConvStem(3, 8, 16)(torch.randn(2, 3, 32, 32))
    assert (tokens.shape, h, w) == ((2, 64, 16), 8, 8)
    tokens, h, w = ConvDownsample(16, 24)(torch.randn(2, 16, 8, 8))
    assert (tokens.shape, h, w) == ((2, 16, 24), 4, 4)
    embed = conv_bn_patch_embed(3, 32)
    assert embed(torch.randn(2, 3, 64, 64)).shape == (2, 32, 4, 4)
    assert [type(m).__name__ for m in embed] == ["Conv2dBN", "ReLU"] * 3 + ["Conv2dBN"]


def _bn(channels: int, seed: int) -> torch.nn.BatchNorm2d:
    generator = torch.Generator().manual_seed(seed)
    bn = torch.nn.BatchNorm2d(channels).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.randn(channels, generator=generator))
        bn.bias.copy_(torch.randn(channels, generator=generator))
        bn.running_mean.copy_(torch.randn(channels, generator=generator))
        bn.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
    return bn


@pytest.mark.parametrize("bias", [False, True])
def test_fold_batchnorm_equals_conv_then_bn(bias) -> None:
    conv = torch.nn.Conv2d(4, 6, 3, 2, 1, bias=bias)
    bn = _bn(6, seed=1)
    weight, b = fold_batchnorm(conv, bn)
    x = torch.randn(2, 4, 9, 9)
    with torch.no_grad():
        expected = bn(conv(x))
    torch.testing.assert_close(F.conv2d(x, weight, b, 2, 1), expected, atol=1e-5, rtol=1e-5)


def test_conv2d_bn_fold_residual_equals_identity_plus_branch() -> None:
    layer = Conv2dBN(5, 5, 3, 1, 1, groups=5).eval()
    layer.bn = _bn(5, seed=2)
    weight, bias = layer.fold_residual()
    x = torch.randn(2, 5, 7, 7)
    with torch.no_grad():
        expected = x + layer(x)
    torch.testing.assert_close(F.conv2d(x, weight, bias, 1, 1, 1, 5), expected)
    scaled, _ = layer.fold(scale=0.5)
    torch.testing.assert_close(scaled, layer.fold()[0] * 0.5)
    with pytest.raises(ValueError, match="depth-wise"):
        Conv2dBN(5, 5, 3, 2, 1, groups=5).fold_residual()
