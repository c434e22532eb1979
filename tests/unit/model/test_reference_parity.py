"""Our network reproduces the published Tiny-BioMoE on the reference weights and inputs."""

from __future__ import annotations

import torch

from biomoe.model.checkpoint import load_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE

TOLERANCE = 1e-4


def test_strict_load_reproduces_reference_embeddings(reference_checkpoint, reference_io) -> None:
    state = torch.load(reference_checkpoint, weights_only=True)["model_state_dict"]
    model = TinyBioMoE(img_size=224)
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        out = model(reference_io["input"])
    assert out.shape == reference_io["embedding"].shape == (4, 192)
    assert (out - reference_io["embedding"]).abs().max().item() < TOLERANCE


def test_load_checkpoint_reproduces_reference_embeddings(
    reference_checkpoint, reference_io
) -> None:
    model = load_checkpoint(reference_checkpoint, img_size=224)
    assert not model.training
    with torch.no_grad():
        out = model(reference_io["input"])
    assert (out - reference_io["embedding"]).abs().max().item() < TOLERANCE
