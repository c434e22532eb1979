"""Faults in real runs: a SIGKILL mid-training, a failing rank, a resume that cannot be exact."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import torch
from mlflow.tracking import MlflowClient

from biomoe.config import Params
from biomoe.errors import CheckpointError
from biomoe.model.checkpoint import save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.paths import ProjectPaths
from biomoe.pretrain.checkpointing import checkpoint_path, load_state
from biomoe.pretrain.launch import PretrainError, launch_pretraining, run_dir
from biomoe.pretrain.params import PretrainJob

from .conftest import with_pretrain

pytestmark = pytest.mark.slow  # real multi-process runs: ~1 min together on 2 cores

LAUNCH = """
import sys
from biomoe.config import Params
from biomoe.errors import CheckpointError
from biomoe.paths import ProjectPaths
from biomoe.pretrain.launch import launch_pretraining
from biomoe.pretrain.params import PretrainJob
params = Params.model_validate_json(open(sys.argv[2]).read())
job = PretrainJob(pretrain=params.pretrain, img_size=params.images.size)
launch_pretraining(job, ProjectPaths.at(sys.argv[1]))
"""


def _quiet(line: str) -> None:
    pass


def _last_good_backbone(paths: ProjectPaths) -> dict[str, bytes]:
    """A published backbone from an earlier run, which no failed run may replace."""
    save_checkpoint(TinyBioMoE(32), paths.backbone)
    (paths.backbone_dir / "model.json").write_text('{"earlier": true}\n')
    return {p.name: p.read_bytes() for p in sorted(paths.backbone_dir.iterdir())}


def _backbone_files(paths: ProjectPaths) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(paths.backbone_dir.iterdir())}


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants at once (torchrun starts its workers in
    sessions of their own, so a process-group kill would miss them): a crash, no clean-up."""
    root = psutil.Process(pid)
    victims = [root, *root.children(recursive=True)]
    for victim in victims:
        victim.send_signal(signal.SIGKILL)
    psutil.wait_procs(victims, timeout=30)


def _wait_for(path: Path, process: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the run ended before its first checkpoint:\n{log.read_text()}")
        if time.monotonic() > deadline:
            _kill_tree(process.pid)
            pytest.fail(f"no checkpoint after {timeout} s:\n{log.read_text()}")
        time.sleep(0.02)


def test_sigkill_then_resume_ends_with_the_weights_of_an_unbroken_run(
    make_project: Callable[[str], ProjectPaths], tiny_params: Params, tmp_path: Path
) -> None:
    two_epochs = {"quick": {"corpus_scale": 1, "epochs": 2, "warmup_steps": 2}}
    params = with_pretrain(tiny_params, recipes=two_epochs, checkpoint_every=2, log_every=1)

    unbroken = make_project("unbroken")
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking)
    run_id = client.create_run(client.create_experiment("pretrain")).info.run_id
    launch_pretraining(
        PretrainJob(pretrain=params.pretrain, img_size=params.images.size),
        unbroken,
        tracking_uri=tracking,
        run_id=run_id,
        echo=_quiet,
    )

    broken = make_project("broken")
    earlier = _last_good_backbone(broken)
    params_file = tmp_path / "params.json"
    params_file.write_text(params.model_dump_json(by_alias=True))
    log = tmp_path / "killed-run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(broken.root), str(params_file)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    ckpt = checkpoint_path(run_dir(broken))
    _wait_for(ckpt, process, log)
    _kill_tree(process.pid)

    killed = load_state(ckpt)
    total = load_state(checkpoint_path(run_dir(unbroken)))["step"]
    assert not killed["finished"] and 2 <= killed["step"] < total, log.read_text()
    assert _backbone_files(broken) == earlier

    launch_pretraining(
        PretrainJob(pretrain=params.pretrain, img_size=params.images.size),
        broken,
        resume=True,
        echo=_quiet,
    )
    expected = torch.load(unbroken.backbone, weights_only=True)["model_state_dict"]
    resumed = torch.load(broken.backbone, weights_only=True)["model_state_dict"]
    assert list(resumed) == list(expected)
    for key, value in expected.items():
        assert torch.equal(resumed[key], value), key
    assert broken.backbone.read_bytes() == unbroken.backbone.read_bytes()
    card = (broken.backbone_dir / "model.json").read_bytes()
    assert card == (unbroken.backbone_dir / "model.json").read_bytes()

    metrics = client.get_run(run_id).data.metrics
    tasks = params.pretrain.tasks
    for task in ("signal_type", "representation"):
        assert {f"train_loss_{task}", f"train_acc_{task}", f"epoch_val_acc_{task}"} <= set(metrics)
    assert {"lr", "train_loss", "epoch_val_loss"} <= set(metrics)
    history = client.get_metric_history(run_id, "train_loss")
    assert [m.step for m in history] == list(range(1, total + 1))
    assert json.loads(card)["tasks"].keys() == set(tasks)

    changed = with_pretrain(params, lr=1e-3)  # not the run that finished: refused
    with pytest.raises(CheckpointError, match=r"pretrain\.lr: 0\.0003 -> 0\.001"):
        launch_pretraining(
            PretrainJob(pretrain=changed.pretrain, img_size=changed.images.size),
            broken,
            resume=True,
            echo=_quiet,
        )
    more = with_pretrain(params, nproc=2, log_every=3)  # the same run: published again as is
    lines: list[str] = []
    again = launch_pretraining(
        PretrainJob(pretrain=more.pretrain, img_size=more.images.size),
        broken,
        resume=True,
        echo=lines.append,
    )
    assert lines == [
        f"{checkpoint_path(run_dir(broken))}: the run has finished; publishing its backbone"
    ]
    assert broken.backbone.read_bytes() == unbroken.backbone.read_bytes()
    assert (broken.backbone_dir / "model.json").read_bytes() == card
    assert again.metrics == pytest.approx(json.loads(card)["metrics"], abs=1e-6)


def test_a_failing_rank_stops_the_run_and_keeps_the_last_good_backbone(
    make_project: Callable[[str], ProjectPaths], tiny_params: Params
) -> None:
    paths = make_project("failing")
    earlier = _last_good_backbone(paths)
    shard = next((paths.root / "data" / "corpus" / "images" / "waveform").glob("shard-*.npy"))
    shard.write_bytes(shard.read_bytes()[:300])  # truncated: unreadable from the first step
    lines: list[str] = []
    params = with_pretrain(tiny_params, nproc=2, batch_size=8)
    with pytest.raises(
        PretrainError, match=r"failed on rank \d: biomoe\.errors\.DataError"
    ) as caught:
        launch_pretraining(
            PretrainJob(pretrain=params.pretrain, img_size=params.images.size),
            paths,
            echo=lines.append,
        )
    message = str(caught.value)
    assert "image shard cannot be read" in message and shard.name in message
    assert "--resume" in message
    assert _backbone_files(paths) == earlier
    assert not checkpoint_path(run_dir(paths)).exists()
    assert any("image shard cannot be read" in line for line in lines)
    with pytest.raises(PretrainError, match="no training checkpoint"):
        launch_pretraining(
            PretrainJob(pretrain=tiny_params.pretrain, img_size=tiny_params.images.size),
            paths,
            resume=True,
            echo=_quiet,
        )


def test_a_loss_that_is_not_finite_stops_the_run_naming_step_and_task(
    make_project: Callable[[str], ProjectPaths], tiny_params: Params
) -> None:
    """An absurd learning rate blows the weights up within a few steps: the run stops at the
    first step whose loss is NaN or infinite, names it and the tasks, never publishes, and the
    last checkpoint it wrote (before that step) is intact and finite."""
    paths = make_project("diverging")
    earlier = _last_good_backbone(paths)
    params = with_pretrain(tiny_params, lr=1.0e30, min_lr=1.0e29, grad_clip=0.0)
    with pytest.raises(PretrainError, match=r"biomoe\.errors\.DivergenceError") as caught:
        launch_pretraining(
            PretrainJob(pretrain=params.pretrain, img_size=params.images.size),
            paths,
            echo=_quiet,
        )
    message = str(caught.value)
    found = re.search(
        r"the loss of task\(s\) ([\w, ]+) is not finite at optimizer step (\d+)", message
    )
    assert found, message
    assert set(found.group(1).split(", ")) <= set(params.pretrain.tasks)
    failed_at = int(found.group(2))
    assert _backbone_files(paths) == earlier
    ckpt = checkpoint_path(run_dir(paths))
    if ckpt.exists():
        state = load_state(ckpt)
        assert state["step"] < failed_at and not state["finished"]
        assert f"(step {state['step']}) is kept" in message
        assert all(
            torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point()
        )
    else:
        assert "no checkpoint had been written yet" in message
