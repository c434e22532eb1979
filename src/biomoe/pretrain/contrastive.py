"""The self-supervised ``contrastive`` task: the representations of one window are positives.

A window's waveform and spectrogram (every representation the corpus renders) are views of one
signal; nothing else in the micro-batch is. Each image's embedding is projected
(``ProjectionHead``, dropped after pretraining as SimCLR does), L2-normalised, and scored against
every other image of the micro-batch by cosine similarity over ``temperature``. The loss of an
anchor is the multi-positive InfoNCE (SupCon's "outside" form)::

    loss_i = - 1/|P(i)| * sum_{p in P(i)} log( exp(s_ip) / sum_{j != i} exp(s_ij) )

which is NT-Xent when a window has two views. It needs no label, so every corpus window counts,
unlabelled user recordings included. The metric is retrieval accuracy: the anchor's most
similar other image is one of its positives.

Negatives are the other windows of the same micro-batch, so the loss is a function of the
micro-batch alone: ``StepSampler`` makes every micro-batch the same block of the shuffled order
whatever the split into processes and accumulation steps, so the maths stay split-invariant (as
BatchNorm's groups do).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from biomoe.model.spec import EMBED_DIM

CONTRASTIVE = "contrastive"
"""The pretraining task name (``pretrain.tasks``)."""


class ProjectionHead(nn.Sequential):
    """``EMBED_DIM -> EMBED_DIM -> projection_dim``, ReLU between (SimCLR's projector)."""

    def __init__(self, projection_dim: int) -> None:
        super().__init__(
            nn.Linear(EMBED_DIM, EMBED_DIM),
            nn.ReLU(inplace=True),
            nn.Linear(EMBED_DIM, projection_dim),
        )


def info_nce_sums(
    projections: Tensor, views: int, temperature: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Summed loss (differentiable), retrieval hits and anchors of a micro-batch whose images
    come in consecutive groups of ``views`` (one group per window). A micro-batch of one window
    has no negative: it adds exactly 0."""
    n = projections.shape[0]
    if n % views:
        raise ValueError(f"{n} images do not come in groups of {views} views")
    if n // views < 2:
        zero = projections.sum() * 0.0
        return zero, zero.detach().double(), zero.detach().double()
    z = F.normalize(projections.float(), dim=1)
    similarity = z @ z.T / temperature
    window = torch.arange(n, device=z.device) // views
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    positive = (window[:, None] == window[None, :]) & ~self_mask
    log_prob = similarity.masked_fill(self_mask, float("-inf")).log_softmax(dim=1)
    per_anchor = -(log_prob.masked_fill(~positive, 0.0).sum(1) / positive.sum(1))
    with torch.no_grad():
        nearest = similarity.masked_fill(self_mask, float("-inf")).argmax(1)
        hits = positive[torch.arange(n, device=z.device), nearest].sum()
    count = torch.tensor(float(n), dtype=torch.float64, device=z.device)
    return per_anchor.sum(), hits.to(torch.float64), count
