"""The spread task: VICReg's variance and covariance terms on the embedding."""

from __future__ import annotations

import pytest
import torch

from biomoe.pretrain.params import SpreadParams
from biomoe.pretrain.spread import VARIANCE_EPS, spread_sums

SPREAD = SpreadParams(target_std=1.0, covariance_weight=0.04)


def test_a_collapsed_embedding_costs_the_whole_hinge_and_every_dimension_gets_a_gradient() -> None:
    embedding = torch.ones(8, 6).requires_grad_()
    noisy = embedding + 1e-3 * torch.randn(8, 6, generator=torch.Generator().manual_seed(0))
    loss, std, count = spread_sums(noisy, SPREAD)
    assert loss.item() == pytest.approx(1.0 - VARIANCE_EPS**0.5, abs=2e-3)
    assert std.item() < 0.02 and count.item() == 1.0
    loss.backward()
    assert (embedding.grad.abs().sum(0) > 0).all()


def test_decorrelated_dimensions_at_the_target_spread_cost_nothing() -> None:
    signs = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    embedding = 2.0 * signs  # std 2.3 per dimension, covariance 0
    loss, std, _ = spread_sums(embedding, SPREAD)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert std.item() == pytest.approx((16 / 3 + VARIANCE_EPS) ** 0.5, rel=1e-5)


def test_correlated_dimensions_are_penalised_by_the_covariance_weight() -> None:
    x = 2.0 * torch.tensor([1.0, -1.0, 1.0, -1.0])
    copies = torch.stack([x, x], dim=1)  # one direction twice: var 16/3 each, cov 16/3
    loss, _, _ = spread_sums(copies, SPREAD)
    assert loss.item() == pytest.approx(0.04 * 2 * (16 / 3) ** 2 / 2, rel=1e-5)
    free = SpreadParams(target_std=1.0, covariance_weight=0.0)
    assert spread_sums(copies, free)[0].item() == pytest.approx(0.0, abs=1e-6)


def test_one_image_adds_nothing() -> None:
    embedding = torch.randn(1, 6, requires_grad=True)
    loss, std, count = spread_sums(embedding, SPREAD)
    assert loss.item() == std.item() == count.item() == 0.0
    loss.backward()
    assert (embedding.grad == 0).all()
