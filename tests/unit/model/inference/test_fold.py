"""``fold(layer)`` computes the eager ``layer`` on NHWC tensors, for each kind of layer."""

from __future__ import annotations

import pytest
import torch
from tests.unit.model.inference.conftest import TOLERANCE, embed, max_diff

from biomoe.model.efficientvit import EfficientViTBlock
from biomoe.model.inference.fold import fold
from biomoe.model.layers import (
    Conv2dBN,
    ConvDownsample,
    ConvStem,
    LocalWindowAttention,
    PatchMerging,
    PointwiseFFN,
    Residual,
    SpectralGatingFilter,
    conv_bn_patch_embed,
)
from biomoe.model.spectformer import SpectFormerBlock

MAPS = {
    "patch_embed": (lambda: conv_bn_patch_embed(3, 32), (2, 3, 32, 32)),
    "depthwise_residual": (lambda: Residual(Conv2dBN(8, 8, 3, 1, 1, groups=8)), (2, 8, 5, 5)),
    "ffn_residual": (lambda: Residual(PointwiseFFN(8, 16)), (2, 8, 5, 5)),
    "patch_merging": (lambda: PatchMerging(8, 12), (2, 8, 7, 7)),
    "padded_windows": (
        lambda: Residual(LocalWindowAttention(24, 8, 3, 9, 4, (3, 3, 3))),
        (2, 24, 9, 9),
    ),
    "efficientvit_block": (lambda: EfficientViTBlock(24, 8, 3, 4, 7, (5, 3, 3)), (2, 24, 4, 4)),
}


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1).contiguous()


@pytest.mark.parametrize("name", MAPS)
def test_folded_feature_map_layers_equal_eager(perturb, name) -> None:
    make, shape = MAPS[name]
    torch.manual_seed(0)
    layer = perturb(make()).eval()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    assert max_diff(embed(fold(layer), _nhwc(x)), _nhwc(embed(layer, x))) < TOLERANCE


@pytest.mark.parametrize("stem", [ConvStem(3, 8, 16), ConvDownsample(3, 16)])
def test_folded_stems_give_tokens_on_their_grid(perturb, stem) -> None:
    layer = perturb(stem).eval()
    x = torch.randn(2, 3, 16, 16)
    tokens, h, w = embed(layer, x)
    folded = embed(fold(layer), _nhwc(x))
    assert folded.shape[1:3] == (h, w)
    assert max_diff(folded.reshape(tokens.shape), tokens) < TOLERANCE


@pytest.mark.parametrize("mixer", ["spectral", "attention"])
def test_folded_spectformer_blocks_equal_eager(perturb, mixer) -> None:
    torch.manual_seed(0)
    block = perturb(SpectFormerBlock(16, 4, 2.0, mixer, (4, 6))).eval()
    x = torch.randn(2, 4, 6, 16)
    expected = embed(block, x.reshape(2, 24, 16), 4, 6)
    assert max_diff(embed(fold(block), x).reshape(expected.shape), expected) < TOLERANCE


def test_folded_token_mixers_add_their_residual() -> None:
    filt = SpectralGatingFilter(4, 3, 4)
    y, residual = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    with torch.inference_mode():
        out = fold(filt)(y, residual)
        expected = residual + filt(y.reshape(2, 12, 4), 3, 4).reshape(y.shape)
    assert max_diff(out, expected) < TOLERANCE


def test_layers_without_an_inference_form_are_refused() -> None:
    with pytest.raises(TypeError, match="no inference form of BatchNorm2d"):
        fold(torch.nn.BatchNorm2d(3))
