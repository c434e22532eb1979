from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from biomoe.errors import CheckpointError
from biomoe.pretrain.checkpointing import (
    KEYS,
    check_fingerprint,
    load_state,
    remove_partial_writes,
    restore_rng,
    rng_state,
    save_state,
)


def _state(step: int) -> dict:
    state = dict.fromkeys(KEYS)
    return state | {"step": step, "model": {"w": torch.full((3,), float(step))}, "rng": []}


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    save_state(path, _state(2))
    with pytest.raises(Exception, match=r"pickle|lambda"):
        save_state(path, _state(4) | {"history": [lambda: None]})
    assert load_state(path)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    save_state(path, _state(4))
    assert torch.equal(load_state(path)["model"]["w"], torch.full((3,), 4.0))
    (tmp_path / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")  # left by a kill
    remove_partial_writes(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_missing_corrupt_truncated_and_foreign_checkpoints_are_named(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    with pytest.raises(CheckpointError, match="no training checkpoint"):
        load_state(path)
    save_state(path, _state(2))
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_state(path)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        load_state(path)
    torch.save({"model_state_dict": {"w": torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError, match="not one of ours"):
        load_state(path)


def test_resuming_another_run_is_refused_with_what_changed(tmp_path: Path) -> None:
    saved = {"pretrain.lr": 0.001, "world_size": 2, "corpus_sha256": "a"}
    check_fingerprint(tmp_path, saved, dict(saved))
    with pytest.raises(CheckpointError, match=r"pretrain\.lr: 0\.001 -> 0\.01.*world_size: 2 -> 1"):
        check_fingerprint(tmp_path, saved, saved | {"pretrain.lr": 0.01, "world_size": 1})


def test_rng_states_survive_a_checkpoint(tmp_path: Path) -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    save_state(tmp_path / "last.pt", _state(0) | {"rng": [rng_state()]})
    first = (random.random(), np.random.rand(), torch.rand(2))
    restore_rng(load_state(tmp_path / "last.pt")["rng"][0])
    again = (random.random(), np.random.rand(), torch.rand(2))
    assert first[:2] == again[:2]
    assert torch.equal(first[2], again[2])
