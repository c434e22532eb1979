"""The ``spread`` task: keep the 192-D embedding from collapsing onto a few directions.

The class and contrastive tasks are solved by the few directions that tell signal types, rates
and windows apart; nothing stops every other direction from dying, and the probes measured
exactly that (the participation ratio of single-modality embeddings fell with compute). This is
VICReg's variance and covariance terms (Bardes et al., 2022) on the embedding the probes and
the classifiers read, not on a projector: over the images of a micro-batch,

    variance   = mean_j max(0, target_std - sqrt(var_j + eps))
    covariance = sum_{i != j} cov_ij^2 / EMBED_DIM
    loss       = variance + covariance_weight * covariance

so every dimension keeps a spread across windows and the dimensions stay decorrelated. It needs
no label. Like the contrastive task it is a function of the micro-batch alone (split-invariant
under ``StepSampler``); a micro-batch of one image adds exactly 0. The metric is the mean
per-dimension standard deviation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from biomoe.pretrain.params import SpreadParams

SPREAD = "spread"
"""The pretraining task name (``pretrain.tasks``)."""

VARIANCE_EPS = 1e-4
"""Added to each variance before the square root (VICReg's), so a dead dimension has a gradient."""


def spread_sums(embedding: Tensor, spread: SpreadParams) -> tuple[Tensor, Tensor, Tensor]:
    """Loss (differentiable), mean per-dimension standard deviation and the count (1, or 0 for
    a micro-batch of fewer than two images) of one micro-batch's embeddings ``[B, D]``."""
    n, dim = embedding.shape
    if n < 2:
        zero = embedding.sum() * 0.0
        return zero, zero.detach().double(), zero.detach().double()
    z = embedding.float()
    centred = z - z.mean(0)
    covariance = centred.T @ centred / (n - 1)
    std = torch.sqrt(covariance.diagonal() + VARIANCE_EPS)
    variance_loss = torch.relu(spread.target_std - std).mean()
    off_diagonal = covariance - torch.diag(covariance.diagonal())
    covariance_loss = off_diagonal.pow(2).sum() / dim
    loss = variance_loss + spread.covariance_weight * covariance_loss
    one = torch.ones((), dtype=torch.float64, device=z.device)
    return loss, std.detach().mean().double(), one
