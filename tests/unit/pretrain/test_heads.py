from __future__ import annotations

import torch
from torch.nn import functional as F

from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.pretrain.heads import (
    HUBER_DELTA,
    NO_LABEL,
    MultiTaskModel,
    objective_sums,
    regression_sums,
    target_counts,
    task_sums,
)
from biomoe.pretrain.params import SpreadParams
from biomoe.pretrain.spread import spread_sums


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


def test_missing_targets_add_nothing_to_the_regression_loss() -> None:
    predictions = torch.tensor([[0.5, 3.0], [1.0, -2.0]], requires_grad=True)
    targets = torch.tensor([[0.0, float("nan")], [1.0, 0.5]])
    loss, error, count = regression_sums(predictions, targets)
    known = torch.tensor([[0.5, 0.0], [0.0, -2.5]])  # errors of the finite targets only
    expected = F.huber_loss(known, torch.zeros_like(known), reduction="sum", delta=HUBER_DELTA)
    torch.testing.assert_close(loss, expected)
    assert error.item() == 3.0 and count.item() == 3.0
    loss.backward()
    assert predictions.grad[0, 1].item() == 0.0  # a NaN target reaches no prediction
    assert torch.isfinite(predictions.grad).all()


def test_objective_sums_put_the_regression_after_the_class_tasks() -> None:
    torch.manual_seed(0)
    model = MultiTaskModel(TinyBioMoE(32), {"signal_type": 3, "morphology": 4})
    images = torch.rand(3, 3, 32, 32)
    labels = torch.tensor([[0], [NO_LABEL], [2]])
    targets = torch.full((3, 4), float("nan"))
    targets[0, 1] = 0.3
    outputs = model(images)
    losses, metrics = objective_sums(outputs, labels, targets)
    assert losses.shape == metrics.shape == (2,)
    torch.testing.assert_close(
        losses[0], task_sums({"signal_type": outputs["signal_type"]}, labels)[0][0]
    )
    torch.testing.assert_close(losses[1], regression_sums(outputs["morphology"], targets)[0])
    assert target_counts(labels, targets, regression=True).tolist() == [2.0, 1.0]
    assert target_counts(labels, targets, regression=False).tolist() == [2.0]


def test_the_spread_task_reads_the_embedding_itself_and_comes_last() -> None:
    torch.manual_seed(0)
    model = MultiTaskModel(TinyBioMoE(32), {"signal_type": 3, "spread": 192})
    assert sum(p.numel() for p in model.heads["spread"].parameters()) == 0
    images = torch.rand(4, 3, 32, 32)
    labels = torch.tensor([[0], [1], [NO_LABEL], [2]])
    targets = torch.zeros(4, 0)
    outputs = model(images)
    torch.testing.assert_close(outputs["spread"], model.backbone(images))
    settings = SpreadParams(target_std=1.0, covariance_weight=0.04)
    losses, metrics = objective_sums(outputs, labels, targets, spread=settings)
    loss, std, _ = spread_sums(outputs["spread"], settings)
    torch.testing.assert_close(losses[1], loss)
    torch.testing.assert_close(metrics[1], std)
    counts = target_counts(labels, targets, regression=False, spread=True)
    assert counts.tolist() == [3.0, 1.0]
    assert target_counts(labels[:1], targets[:1], False, spread=True).tolist() == [1.0, 0.0]
