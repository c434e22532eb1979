"""``FastTinyBioMoE``: its plain-PyTorch path, input checks, copies and pickles."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from tests.unit.model.inference.conftest import TOLERANCE, embed, max_diff, perturbed

from biomoe.model.inference import FastTinyBioMoE
from biomoe.model.tiny_biomoe import TinyBioMoE


def test_plain_pytorch_fallback_matches_eager(perturb) -> None:
    """With autograd on, every fused layer takes its plain-PyTorch path (the one used on GPU)."""
    model = perturbed(perturb, 64, seed=3)
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    out = FastTinyBioMoE(model)(x)
    assert out.requires_grad
    assert max_diff(out.detach(), embed(model, x.detach())) < TOLERANCE


def test_rejects_wrong_input_shape() -> None:
    fast = FastTinyBioMoE(TinyBioMoE(img_size=32).eval())
    with pytest.raises(ValueError, match=r"expected input \[B, 3, 32, 32\], got \[2, 3, 64, 64\]"):
        embed(fast, torch.rand(2, 3, 64, 64))


def test_copies_and_pickles_after_use(perturb) -> None:
    """The oneDNN-packed weights made on first use are never copied or pickled."""
    fast = FastTinyBioMoE(perturbed(perturb, 32, seed=8))
    x = torch.rand(2, 3, 32, 32)
    out = embed(fast, x)
    for clone in (copy.deepcopy(fast), pickle.loads(pickle.dumps(fast))):
        assert torch.equal(embed(clone, x), out)
