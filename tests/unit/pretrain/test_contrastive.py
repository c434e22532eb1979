"""InfoNCE across a window's representations, and the window batches it needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from biomoe.config import Params
from biomoe.corpus.build import load_corpus
from biomoe.errors import DataError
from biomoe.pretrain.contrastive import info_nce_sums
from biomoe.pretrain.data import TaskImages, WindowImages


def test_two_views_is_nt_xent() -> None:
    torch.manual_seed(0)
    projections = torch.randn(6, 5, requires_grad=True)  # 3 windows x 2 views
    loss, hits, count = info_nce_sums(projections, views=2, temperature=0.5)
    z = F.normalize(projections, dim=1)
    logits = (z @ z.T / 0.5).masked_fill(torch.eye(6, dtype=torch.bool), float("-inf"))
    partner = torch.tensor([1, 0, 3, 2, 5, 4])
    torch.testing.assert_close(loss, F.cross_entropy(logits, partner, reduction="sum"))
    assert hits.item() == (logits.argmax(1) == partner).sum().item() and count.item() == 6
    loss.backward()
    assert torch.isfinite(projections.grad).all() and projections.grad.abs().sum() > 0


def test_aligned_views_score_every_retrieval_and_a_low_loss() -> None:
    windows = torch.eye(4) * 5.0
    aligned = windows.repeat_interleave(3, dim=0)  # 4 windows x 3 views, views identical
    loss, hits, count = info_nce_sums(aligned, views=3, temperature=0.1)
    assert hits.item() == count.item() == 12
    shuffled = aligned[torch.randperm(12, generator=torch.Generator().manual_seed(1))]
    assert loss < info_nce_sums(shuffled, views=3, temperature=0.1)[0]


def test_one_window_has_no_negative_and_adds_nothing() -> None:
    projections = torch.randn(2, 4, requires_grad=True)
    loss, hits, count = info_nce_sums(projections, views=2, temperature=0.1)
    assert loss.item() == hits.item() == count.item() == 0.0
    loss.backward()
    assert (projections.grad == 0).all()
    with pytest.raises(ValueError, match="groups of 2"):
        info_nce_sums(torch.randn(5, 4), views=2, temperature=0.1)


def test_window_images_put_a_windows_representations_side_by_side(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir)
    views = len(corpus.classes["representation"])
    shuffled = corpus.index.sample(frac=1.0, random_state=0)
    dataset = WindowImages(corpus.images_dir, shuffled, ("signal_type",), views)
    assert len(dataset) * views == len(corpus.index)
    images, labels, _ = dataset.__getitems__([2, 0])
    ordered = corpus.index.sort_values(["window_id", "task_representation"], kind="stable")
    flat = TaskImages(corpus.images_dir, ordered.reset_index(drop=True), ("signal_type",))
    expected = [*range(2 * views, 3 * views), *range(views)]
    np.testing.assert_array_equal(images.numpy(), flat.__getitems__(expected)[0].numpy())
    assert labels.shape == (2 * views, 1)
    with pytest.raises(DataError, match="one per representation"):
        WindowImages(corpus.images_dir, corpus.index.iloc[1:], ("signal_type",), views)


def test_params_refuse_a_batch_that_splits_a_window(tiny_params: Params) -> None:
    data = tiny_params.model_dump(by_alias=True)
    assert "contrastive" in data["pretrain"]["tasks"]  # a default task
    data["pretrain"]["batch_size"] = 5
    with pytest.raises(ValueError, match=r"pretrain\.batch_size"):
        Params.model_validate(data)
    data["pretrain"]["batch_size"] = 4
    data["pretrain"]["contrastive"]["augment"]["views"] = 0
    data["images"]["representations"] = ["waveform"]
    data["train"]["fusion"]["representations"] = ["waveform"]
    with pytest.raises(ValueError, match="two or more"):
        Params.model_validate(data)
    data["pretrain"]["contrastive"]["augment"]["views"] = 1  # waveform + its augmented view
    assert Params.model_validate(data).pretrain.contrastive.augment.views == 1
