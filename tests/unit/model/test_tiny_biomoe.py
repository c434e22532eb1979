"""The assembled network: size, key layout, img_size handling, training step, determinism."""

from __future__ import annotations

import pytest
import torch

from biomoe.model.spec import EMBED_DIM, check_img_size
from biomoe.model.tiny_biomoe import TinyBioMoE

PUBLISHED_PARAMETERS = 7_337_278


def _shape(t: torch.Tensor) -> str:
    return "scalar" if t.dim() == 0 else "x".join(map(str, t.shape))


def test_parameter_count_matches_publication() -> None:
    model = TinyBioMoE(img_size=224)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMETERS


def test_state_dict_layout_is_the_published_one(reference_keys) -> None:
    state = TinyBioMoE(img_size=224).state_dict()
    ours = [(k, _shape(v), str(v.dtype).removeprefix("torch.")) for k, v in state.items()]
    assert len(reference_keys) == 510
    assert ours == reference_keys


@pytest.mark.parametrize("bad", [0, -32, 31, 48, 100, 224.0, True])
def test_img_size_must_be_a_positive_multiple_of_32(bad) -> None:
    with pytest.raises((ValueError, TypeError), match="img_size"):
        TinyBioMoE(img_size=bad)
    assert check_img_size(64) == 64


def test_image_dependent_shapes_follow_img_size() -> None:
    state = TinyBioMoE(img_size=64).state_dict()
    assert state["ln_img.weight"].shape == (3, 64, 64)
    assert state["enc1.block1.0.attn.complex_weight"].shape == (16, 9, 64, 2)
    assert state["enc2.blocks1.0.mixer.m.attn.attention_bias_idxs"].shape == (16, 16)


def test_small_forward_backward_trains(tiny_params) -> None:
    size = tiny_params.images.size
    torch.manual_seed(0)
    model = TinyBioMoE(img_size=size).train()
    x, target = torch.rand(4, 3, size, size), torch.randn(4, EMBED_DIM)
    out = model(x)
    assert out.shape == (4, EMBED_DIM) and out.dtype == torch.float32
    loss = torch.nn.functional.mse_loss(out, target)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and g.isfinite().all() for g in grads.values())
    torch.optim.SGD(model.parameters(), lr=0.05).step()
    assert torch.nn.functional.mse_loss(model(x), target) < loss


def test_every_parameter_shapes_the_output(perturb) -> None:
    """With no zero-initialised branch left and at least 2x2 tokens in every attention (96 px),
    every parameter receives a gradient: no module is built but left out of the forward pass."""
    torch.manual_seed(0)
    model = perturb(TinyBioMoE(img_size=96)).eval()
    out = model(torch.rand(2, 3, 96, 96))
    (out * torch.randn_like(out)).sum().backward()
    idle = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert idle == []


def test_forward_rejects_wrong_input_shape() -> None:
    model = TinyBioMoE(img_size=32).eval()
    with pytest.raises(ValueError, match=r"expected input \[B, 3, 32, 32\], got \[2, 3, 64, 64\]"):
        model(torch.rand(2, 3, 64, 64))


def test_construction_and_inference_are_deterministic() -> None:
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    outs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = TinyBioMoE(img_size=32).eval()
        with torch.no_grad():
            outs.append(model(x))
    assert torch.equal(outs[0], outs[1])


def test_embedding_rows_are_independent_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = TinyBioMoE(img_size=32).eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[1:2], model(x[1:2]), atol=1e-4, rtol=1e-4)
