from __future__ import annotations

import json
from pathlib import Path

from biomoe.config import Params
from biomoe.io import sha256_file
from biomoe.model import load_checkpoint
from biomoe.pretrain.corpus import build_corpus_images
from biomoe.pretrain.run import pretrain_backbone


def test_corpus_has_one_label_per_task(tiny_params: Params) -> None:
    corpus = build_corpus_images(tiny_params)
    n_signals = len(tiny_params.pretrain.corpus.signal_types)
    n_reps = len(tiny_params.images.representations)
    expected = n_signals * tiny_params.pretrain.corpus.windows_per_signal * n_reps
    size = tiny_params.images.size
    assert corpus.images.shape == (expected, 3, size, size)
    assert set(corpus.labels) == set(tiny_params.pretrain.tasks)
    assert set(corpus.labels["signal_type"]) == set(range(n_signals))
    assert set(corpus.labels["representation"]) == set(range(n_reps))


def test_pretrain_writes_a_published_format_checkpoint_reproducibly(
    tiny_params: Params, tmp_path: Path
) -> None:
    first = pretrain_backbone(tiny_params, tmp_path / "a", tmp_path / "plots")
    second = pretrain_backbone(tiny_params, tmp_path / "b", tmp_path / "plots")
    assert sha256_file(first.checkpoint) == sha256_file(second.checkpoint)
    assert first.card.read_bytes() == second.card.read_bytes()
    model = load_checkpoint(first.checkpoint, img_size=tiny_params.model.img_size)
    assert model.training is False
    card = json.loads(first.card.read_text())
    assert card["checkpoint_sha256"] == sha256_file(first.checkpoint)
    assert set(card["tasks"]) == set(tiny_params.pretrain.tasks)
    assert {"val_acc_signal_type", "val_acc_representation"} <= set(card["metrics"])
    assert first.curves.stat().st_size > 1000
