"""Helpers for the inference tests: perturbed models, embedding, one intra-op thread."""

from __future__ import annotations

import pytest
import torch

from biomoe.model.tiny_biomoe import TinyBioMoE

TOLERANCE = 1e-4


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def embed(module: torch.nn.Module, *inputs: object) -> torch.Tensor:
    """``module(*inputs)`` under ``torch.inference_mode`` (the fused kernels' path)."""
    with torch.inference_mode():
        return module(*inputs)


def perturbed(perturb, img_size: int, seed: int = 0) -> TinyBioMoE:
    torch.manual_seed(seed)
    return perturb(TinyBioMoE(img_size=img_size), seed=seed).eval()


@pytest.fixture(scope="module", autouse=True)
def one_intra_op_thread():
    """One intra-op thread: on a shared 2-core machine, ops split over 2 threads wait for
    each other's time slices and run 10x slower; results do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
