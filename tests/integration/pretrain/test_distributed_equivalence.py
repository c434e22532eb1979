"""Real torchrun runs (gloo, CPU) must train the same weights however a step is split.

Every run here trains on global batches of 8 images. A BatchNorm group (the images one
BatchNorm call normalises together) is one micro-batch on one process, or, with
``batchnorm: sync``, the micro-batches of all processes at once; the runs compared have the
same groups, so their maths are the same. Micro-batches stay at 4 images or more: BatchNorm
over 2 images at the 1x1 maps of the last stage gives +-1 whatever the inputs, and rounding
alone then decides the sign.

The runs are in fp64. In fp32 the rounding of sums taken in another order (DDP's all-reduce)
is amplified by Adam, which turns a gradient that is mathematically zero (a bias followed by
BatchNorm) into a full ``lr``-sized step of either sign; the first-step gradients agree to
1e-5, the weights drift apart after a few steps. In fp64 that rounding stays far below Adam's
epsilon, and the runs agree to ~1e-11.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from biomoe.config import Params
from biomoe.model.checkpoint import load_checkpoint
from biomoe.paths import ProjectPaths
from biomoe.pretrain.checkpointing import checkpoint_path, load_state
from biomoe.pretrain.launch import launch_pretraining, run_dir
from biomoe.pretrain.params import PretrainJob

from .conftest import state_dicts_close, supervised, with_pretrain

pytestmark = pytest.mark.slow  # real multi-process runs: ~1 min together on 2 cores

TIGHT = {"rtol": 1e-9, "atol": 1e-9}


def _train(make_project: Callable[[str], ProjectPaths], name: str, params: Params) -> dict:
    paths = make_project(name)
    launch_pretraining(
        PretrainJob(pretrain=params.pretrain, img_size=params.images.size),
        paths,
        echo=lambda line: None,
    )
    state = load_state(checkpoint_path(run_dir(paths)))
    state["backbone"] = load_checkpoint(paths.backbone, img_size=32).state_dict()
    return state


def _assert_same_run(a: dict, b: dict, *, running_stats: bool) -> None:
    """Same weights and training metrics; with ``running_stats`` also the same BatchNorm
    running statistics, hence the same published backbone and validation metrics."""
    assert a["step"] == b["step"] >= 4
    compared = {k for k in a["model"] if running_stats or not _is_bn_statistic(k)}
    state_dicts_close(
        {k: a["model"][k] for k in sorted(compared)},
        {k: b["model"][k] for k in sorted(compared)},
        **TIGHT,
    )
    if running_stats:
        state_dicts_close(a["backbone"], b["backbone"])  # published in fp32
    assert [h["step"] for h in a["history"]] == [h["step"] for h in b["history"]]
    for x, y in zip(a["history"], b["history"], strict=True):
        assert x["metrics"].keys() == y["metrics"].keys()
        for key in x["metrics"]:
            if running_stats or key.startswith("train_"):
                assert x["metrics"][key] == pytest.approx(y["metrics"][key], rel=1e-9), key


def _is_bn_statistic(key: str) -> bool:
    return key.endswith(("running_mean", "running_var", "num_batches_tracked"))


@pytest.fixture(scope="module")
def one_process(make_project: Callable[[str], ProjectPaths], tiny_params: Params) -> dict:
    """1 process, micro-batches of 4, 2 accumulation steps."""
    params = with_pretrain(
        tiny_params,
        tasks=supervised(tiny_params),
        nproc=1,
        batch_size=4,
        grad_accum_steps=2,
        precision="fp64",
    )
    return _train(make_project, "one-process", params)


def test_two_processes_train_like_one_with_the_same_global_batch(
    one_process: dict, make_project: Callable[[str], ProjectPaths], tiny_params: Params
) -> None:
    """2 processes x micro-batches of 2 x 2 accumulation steps (``no_sync`` on the first),
    BatchNorm synced: each group is the same 4 images as one micro-batch of one process."""
    params = with_pretrain(
        tiny_params,
        tasks=supervised(tiny_params),
        nproc=2,
        batch_size=2,
        grad_accum_steps=2,
        batchnorm="sync",
        precision="fp64",
    )
    _assert_same_run(one_process, _train(make_project, "two-processes", params), running_stats=True)


def test_accumulation_steps_and_processes_are_interchangeable(
    one_process: dict, make_project: Callable[[str], ProjectPaths], tiny_params: Params
) -> None:
    """Batch 4 x 2 accumulation steps against 2 processes x batch 4, BatchNorm per process:
    accumulating micro-batches is training on a twice larger batch, spread over time. The
    BatchNorm running statistics differ, as in any DDP run without synced BatchNorm: each
    process keeps its own and DDP broadcasts rank 0's (a single process saw every group)."""
    params = with_pretrain(
        tiny_params,
        tasks=supervised(tiny_params),
        nproc=2,
        batch_size=4,
        grad_accum_steps=1,
        batchnorm="local",
        precision="fp64",
    )
    _assert_same_run(one_process, _train(make_project, "accumulation", params), running_stats=False)


def test_the_contrastive_task_keeps_the_split_invariance(
    make_project: Callable[[str], ProjectPaths], tiny_params: Params
) -> None:
    """With the contrastive task and one augmented view a micro-batch is 2 whole windows (each
    2 stored + 2 augmented images); its InfoNCE negatives are that micro-batch's, the same block
    of the shuffled windows for 1 process x 2 accumulation steps as for 2 processes x 1 step
    (so are the spread task's variances and covariances), and each view is drawn from the
    window, the view and the epoch alone, so both train the same weights."""
    assert "spread" in tiny_params.pretrain.tasks
    contrastive = tiny_params.pretrain.contrastive.model_dump(by_alias=True)
    contrastive["augment"]["views"] = 1
    common = dict(
        tasks=tiny_params.pretrain.tasks,
        contrastive=contrastive,
        batch_size=8,
        batchnorm="local",
        precision="fp64",
    )
    one = _train(
        make_project,
        "contrastive-one",
        with_pretrain(tiny_params, nproc=1, grad_accum_steps=2, **common),
    )
    two = _train(
        make_project,
        "contrastive-two",
        with_pretrain(tiny_params, nproc=2, grad_accum_steps=1, **common),
    )
    metrics = one["history"][-1]["metrics"]
    assert metrics["train_loss_contrastive"] > 0 and "val_acc_contrastive" in metrics
    assert metrics["train_loss_spread"] > 0 and 0 < metrics["val_std_spread"] < 1
    assert one["classes"]["contrastive"] == list(tiny_params.images.representations)
    _assert_same_run(one, two, running_stats=False)
