from __future__ import annotations

import itertools
import math

import pytest
import torch

from biomoe.pretrain.schedule import adamw, lr_factor, warmup_cosine


def test_warmup_rises_linearly_then_cosine_falls_to_the_floor() -> None:
    factors = [lr_factor(s, warmup_steps=4, total_steps=14, min_ratio=0.1) for s in range(14)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4] == pytest.approx(1.0)
    middle = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 4 / 9))
    assert factors[8] == pytest.approx(middle)
    assert factors[-1] == pytest.approx(0.1)
    decay = factors[4:]
    assert all(a > b for a, b in itertools.pairwise(decay))


def test_no_warmup_and_warmup_longer_than_the_run() -> None:
    assert lr_factor(0, warmup_steps=0, total_steps=5, min_ratio=0.0) == pytest.approx(1.0)
    assert lr_factor(4, warmup_steps=0, total_steps=5, min_ratio=0.0) == pytest.approx(0.0)
    short = [lr_factor(s, warmup_steps=10, total_steps=3, min_ratio=0.0) for s in range(3)]
    assert short == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_scheduler_drives_the_optimizer_and_resumes_from_its_state() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    optimizer = adamw(model, lr=1.0, weight_decay=0.1)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    assert [len(g["params"]) for g in optimizer.param_groups] == [1, 3]
    scheduler = warmup_cosine(optimizer, warmup_steps=2, total_steps=6, min_ratio=0.0)
    seen = []
    for _ in range(3):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx(
        [0.5, 1.0, lr_factor(2, warmup_steps=2, total_steps=6, min_ratio=0.0)]
    )

    again = adamw(model, lr=1.0, weight_decay=0.1)
    resumed = warmup_cosine(again, warmup_steps=2, total_steps=6, min_ratio=0.0)
    again.load_state_dict(optimizer.state_dict())
    resumed.load_state_dict(scheduler.state_dict())
    for _ in range(2):
        assert again.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
        for opt, sched in ((optimizer, scheduler), (again, resumed)):
            opt.step()
            sched.step()
