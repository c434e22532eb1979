from __future__ import annotations

import torch
from torch.nn import functional as F

from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.pretrain.heads import NO_LABEL, MultiTaskModel, task_sums


def test_unlabelled_images_add_nothing_and_every_head_still_gets_a_gradient() -> None:
    torch.manual_seed(0)
    model = MultiTaskModel(TinyBioMoE(32), {"signal_type": 3, "dataset_label": 2})
    images = torch.rand(4, 3, 32, 32)
    labels = torch.tensor([[0, NO_LABEL], [2, NO_LABEL], [1, NO_LABEL], [NO_LABEL, NO_LABEL]])
    logits = model(images)
    losses, correct = task_sums(logits, labels)

    expected = F.cross_entropy(logits["signal_type"][:3], labels[:3, 0], reduction="sum")
    torch.testing.assert_close(losses[0], expected)
    assert losses[1].item() == 0.0
    assert correct[1].item() == 0.0
    hits = (logits["signal_type"][:3].argmax(1) == labels[:3, 0]).sum()
    assert correct[0].item() == hits.item()

    losses.sum().backward()
    head = model.heads["dataset_label"]
    assert head.weight.grad is not None and torch.count_nonzero(head.weight.grad) == 0
    assert torch.count_nonzero(model.heads["signal_type"].weight.grad) > 0
