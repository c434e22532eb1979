"""The two experts on their own, at small image sizes."""

from __future__ import annotations

import pytest
import torch

from biomoe.model.efficientvit import EfficientViTExpert
from biomoe.model.layers import MultiHeadSelfAttention, SpectralGatingFilter
from biomoe.model.spectformer import SpectFormerExpert


def test_spectformer_stage_layout_follows_img_size() -> None:
    expert = SpectFormerExpert(img_size=64)
    mixers = [type(getattr(expert, f"block{i}")[0].attn) for i in range(1, 5)]
    assert mixers == [SpectralGatingFilter] * 2 + [MultiHeadSelfAttention] * 2
    assert expert.block1[0].attn.complex_weight.shape == (16, 9, 64, 2)
    assert expert.block2[0].attn.complex_weight.shape == (8, 5, 128, 2)
    assert expert.eval()(torch.rand(2, 3, 64, 64)).shape == (2, 96)


def test_spectformer_output_is_layer_normalised() -> None:
    expert = SpectFormerExpert(img_size=32).eval()
    out = expert(torch.rand(3, 3, 32, 32))
    torch.testing.assert_close(out.mean(-1), torch.zeros(3), atol=1e-5, rtol=0)


def test_efficientvit_resolutions_follow_img_size() -> None:
    expert = EfficientViTExpert(img_size=64)
    assert expert.blocks1[0].mixer.m.resolution == 4
    assert expert.blocks2[3].mixer.m.resolution == 2
    assert expert.blocks3[3].mixer.m.resolution == 1
    assert expert.blocks3[3].mixer.m.attn.attention_biases.shape == (4, 1)
    assert expert.eval()(torch.rand(2, 3, 64, 64)).shape == (2, 96)


def test_experts_reject_unsupported_sizes() -> None:
    with pytest.raises(ValueError, match="divisible by 32"):
        SpectFormerExpert(img_size=48)
    with pytest.raises(ValueError, match="divisible by 16"):
        EfficientViTExpert(img_size=40)
