"""``ThreadedTinyBioMoE``: batches split over workers, results independent of the workers."""

from __future__ import annotations

import pytest
import torch
from tests.unit.model.inference.conftest import TOLERANCE, embed, max_diff, perturbed

from biomoe.model.inference import FastTinyBioMoE, ThreadedTinyBioMoE


def test_threaded_engine_splits_batches_and_keeps_caller_threads(perturb) -> None:
    model = perturbed(perturb, 64, seed=6)
    fast = FastTinyBioMoE(model)
    x = torch.rand(7, 3, 64, 64, generator=torch.Generator().manual_seed(7))
    expected = embed(fast, x)
    for workers, chunk in [(1, 2), (2, 2), (3, 4)]:
        torch.set_num_threads(2)
        threaded = ThreadedTinyBioMoE(fast, workers=workers, chunk=chunk)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        assert max_diff(embed(threaded, x), expected) < TOLERANCE
        assert max_diff(embed(threaded, x[:1]), expected[:1]) < TOLERANCE
        threaded.close()
    with pytest.raises(ValueError, match="workers"):
        ThreadedTinyBioMoE(fast, workers=0)


def test_threaded_engine_outputs_do_not_depend_on_the_workers(perturb) -> None:
    fast = FastTinyBioMoE(perturbed(perturb, 64, seed=9))
    x = torch.rand(6, 3, 64, 64, generator=torch.Generator().manual_seed(9))
    outputs = []
    for workers in (1, 2, 3):
        threaded = ThreadedTinyBioMoE(fast, workers=workers)
        outputs.append(embed(threaded, x))
        threaded.close()
    assert all(torch.equal(outputs[0], other) for other in outputs[1:])
