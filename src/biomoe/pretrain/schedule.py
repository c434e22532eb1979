"""Optimizer and learning-rate schedule: AdamW, linear warm-up, cosine decay to ``min_lr``."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn


def lr_factor(step: int, *, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """Multiplier of the peak lr for optimizer step ``step`` (0-based).

    Rises linearly over ``warmup_steps`` (step 0 already gets ``1 / warmup_steps``, so no step
    is wasted at lr 0), then follows half a cosine from 1 down to ``min_ratio`` at the last step.
    """
    warmup_steps = min(warmup_steps, total_steps)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = total_steps - warmup_steps
    if decay_steps <= 1:
        return 1.0
    progress = min((step - warmup_steps) / (decay_steps - 1), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW that decays matrices and convolution kernels only, not biases or norm weights."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr)


def warmup_cosine(
    optimizer: torch.optim.Optimizer, *, warmup_steps: int, total_steps: int, min_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """A scheduler stepped once per optimizer step; its state is a checkpoint's ``scheduler``."""
    factor = partial(
        lr_factor, warmup_steps=warmup_steps, total_steps=total_steps, min_ratio=min_ratio
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
