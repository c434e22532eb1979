from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from biomoe.config import Params
from biomoe.errors import CheckpointError
from biomoe.io import sha256_file
from biomoe.model.checkpoint import load_checkpoint, save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.paths import ProjectPaths
from biomoe.pretrain.checkpointing import KEYS, save_state
from biomoe.pretrain.heads import MultiTaskModel
from biomoe.pretrain.launch import run_dir, torchrun_command, worker_environment
from biomoe.pretrain.params import PretrainJob
from biomoe.pretrain.run import publish_backbone


def _finished_state(finished: bool) -> tuple[dict, MultiTaskModel]:
    torch.manual_seed(0)
    model = MultiTaskModel(TinyBioMoE(32), {"signal_type": 3, "representation": 2})
    history = [
        {"epoch": 1, "step": 3, "metrics": {"train_loss": 1.5, "val_loss": 1.25, "val_acc_x": 0.5}}
    ]
    state = dict.fromkeys(KEYS) | {
        "model": model.state_dict(),
        "step": 3,
        "history": history,
        "finished": finished,
        "fingerprint": {"world_size": 2},
        "classes": {"signal_type": ["ecg", "emg", "eeg"], "representation": ["w", "s"]},
    }
    return state, model


def test_a_finished_run_is_published_in_the_released_format(
    tiny_params: Params, tmp_path: Path
) -> None:
    state, model = _finished_state(finished=True)
    save_state(tmp_path / "last.pt", state)
    result = publish_backbone(
        tmp_path / "last.pt",
        PretrainJob(pretrain=tiny_params.pretrain, img_size=tiny_params.images.size),
        "abc",
        tmp_path / "out",
        tmp_path,
    )
    backbone = load_checkpoint(result.checkpoint, img_size=32)
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value)
    card = json.loads(result.card.read_text())
    assert card["corpus_sha256"] == "abc"
    assert card["world_size"] == 2
    assert card["metrics"] == {"train_loss": 1.5, "val_acc_x": 0.5, "val_loss": 1.25}
    assert card["tasks"]["signal_type"] == ["ecg", "emg", "eeg"]
    assert card["checkpoint_sha256"] == sha256_file(result.checkpoint)
    assert result.metrics["val_loss"] == 1.25
    assert result.curves.stat().st_size > 1000


def test_an_unfinished_run_never_replaces_the_backbone(tiny_params: Params, tmp_path: Path) -> None:
    out = tmp_path / "backbone"
    good = save_checkpoint(TinyBioMoE(32), out / "model.pth").read_bytes()
    state, _ = _finished_state(finished=False)
    save_state(tmp_path / "last.pt", state)
    with pytest.raises(CheckpointError, match="did not finish"):
        publish_backbone(
            tmp_path / "last.pt",
            PretrainJob(pretrain=tiny_params.pretrain, img_size=tiny_params.images.size),
            "abc",
            out,
            tmp_path,
        )
    assert (out / "model.pth").read_bytes() == good
    assert sorted(p.name for p in out.iterdir()) == ["model.pth"]


def test_the_launch_binds_to_loopback_and_runs_the_worker(tmp_path: Path) -> None:
    paths = ProjectPaths.at(tmp_path)
    command = torchrun_command(
        2, tmp_path / "p.json", tmp_path / "c", run_dir(paths), resume=True, tracking_uri="u"
    )
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    assert "--local-addr=127.0.0.1" in command
    assert command[command.index("-m", 2) + 1] == "biomoe.pretrain.worker"
    assert "--resume" in command and "--run-id" not in command
    env = worker_environment(2, {"OMP_NUM_THREADS": "3", "PATH": "x"})
    assert env["MASTER_ADDR"] == "127.0.0.1"
    assert env["OMP_NUM_THREADS"] == "3" and env["PATH"] == "x"
    assert env.get("GLOO_SOCKET_IFNAME") in {"lo", "lo0"}
    assert run_dir(paths) == tmp_path.resolve() / ".cache" / "pretrain"
