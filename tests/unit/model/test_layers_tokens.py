"""Token layers: spectral gating, MLPs, self-attention, class attention, the expert gate."""

from __future__ import annotations

import pytest
import torch

from biomoe.model.layers import (
    ClassAttention,
    ClassAttentionBlock,
    ConvFFN,
    ExpertGate,
    Mlp,
    MultiHeadSelfAttention,
    SpectralGatingFilter,
    TokenDepthwiseConv,
)


def test_spectral_filter_of_ones_is_identity() -> None:
    layer = SpectralGatingFilter(dim=6, height=8, width=8)
    assert layer.complex_weight.shape == (8, 5, 6, 2)
    with torch.no_grad():
        layer.complex_weight[..., 0] = 1.0
        layer.complex_weight[..., 1] = 0.0
    x = torch.randn(3, 64, 6)
    torch.testing.assert_close(layer(x, 8, 8), x, atol=1e-5, rtol=1e-5)


def test_spectral_filter_is_linear_and_mixes_globally() -> None:
    torch.manual_seed(0)
    layer = SpectralGatingFilter(dim=4, height=4, width=6)
    x, y = torch.randn(2, 24, 4), torch.randn(2, 24, 4)
    torch.testing.assert_close(layer(x + 2 * y, 4, 6), layer(x, 4, 6) + 2 * layer(y, 4, 6))
    impulse = torch.zeros(1, 24, 4)
    impulse[0, 0] = 1.0
    assert bool((layer(impulse, 4, 6).abs() > 0).all())  # one token reaches every token


def test_spectral_filter_rejects_other_grids() -> None:
    with pytest.raises(ValueError, match="4x4 token grid, got 2x8"):
        SpectralGatingFilter(3, 4, 4)(torch.randn(1, 16, 3), 2, 8)


def test_token_depthwise_conv_with_centre_kernel_is_identity() -> None:
    layer = TokenDepthwiseConv(5)
    with torch.no_grad():
        layer.dwconv.weight.zero_()
        layer.dwconv.weight[:, 0, 1, 1] = 1.0
        layer.dwconv.bias.zero_()
    x = torch.randn(2, 12, 5)
    torch.testing.assert_close(layer(x, 3, 4), x)


def test_feed_forward_shapes() -> None:
    assert Mlp(8, 32)(torch.randn(2, 5, 8)).shape == (2, 5, 8)
    ffn = ConvFFN(8, 32)
    assert ffn(torch.randn(2, 12, 8), 3, 4).shape == (2, 12, 8)
    assert list(ffn.state_dict())[:4] == [
        "fc1.weight",
        "fc1.bias",
        "dwconv.dwconv.weight",
        "dwconv.dwconv.bias",
    ]


def test_self_attention_is_permutation_equivariant() -> None:
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(12, 3)
    x = torch.randn(2, 7, 12)
    perm = torch.randperm(7)
    torch.testing.assert_close(attn(x)[:, perm], attn(x[:, perm]))
    with pytest.raises(ValueError, match="not divisible"):
        MultiHeadSelfAttention(10, 3)


def test_self_attention_fold_qkv_concatenates_q_and_kv() -> None:
    attn = MultiHeadSelfAttention(12, 3)
    weight, bias = attn.fold_qkv()
    x = torch.randn(2, 12)
    with torch.no_grad():
        torch.testing.assert_close(
            torch.nn.functional.linear(x, weight, bias), torch.cat([attn.q(x), attn.kv(x)], dim=1)
        )


def test_class_attention_summarises_into_first_token() -> None:
    torch.manual_seed(0)
    attn = ClassAttention(12, 4)
    x = torch.randn(2, 6, 12)
    assert attn(x).shape == (2, 1, 12)
    perm = torch.cat([torch.zeros(1, dtype=torch.long), 1 + torch.randperm(5)])
    torch.testing.assert_close(attn(x), attn(x[:, perm]))  # order of the others is irrelevant
    assert list(attn.state_dict())[:2] == ["kv.weight", "kv.bias"]


def test_class_attention_block_updates_only_the_class_token() -> None:
    torch.manual_seed(0)
    block = ClassAttentionBlock(12, 4, mlp_ratio=2)
    x = torch.randn(2, 6, 12)
    out = block(x)
    torch.testing.assert_close(out[:, 1:], x[:, 1:])
    assert not torch.allclose(out[:, 0], x[:, 0])
    assert block.norm1.eps == 1e-6


def test_expert_gate_stays_in_unit_interval() -> None:
    torch.manual_seed(0)
    gate = ExpertGate(16)
    assert list(gate.state_dict()) == ["1.weight", "1.bias"]
    out = gate(torch.randn(64, 16) * 100)
    assert bool(((out >= 0) & (out <= 1)).all())
    assert bool((out == 0).any()) and bool((out == 1).any())  # it saturates on both sides
