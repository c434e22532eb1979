"""The multi-task pretraining loop, run by every process ``torchrun`` starts (or by one alone).

Read ``train`` top to bottom: data, model, optimizer and schedule, state (fresh or resumed),
then one loop iteration per optimizer step. What is distributed is visible where it happens:
each rank reads its own micro-batches (``StepSampler``), DDP averages gradients on the last
micro-step of an accumulation (``no_sync`` before), a few sums are all-reduced, and only rank 0
prints, reports metrics and writes checkpoints (``biomoe.pretrain.distributed``).

The loss of an optimizer step is ``sum_t weight_t * mean loss_t`` where the mean runs over the
images of the whole step (all ranks, all micro-steps) that have a label for task ``t``
(cross-entropy), over the finite targets of the step (``morphology``: Huber loss on the
robust-scaled window features, ``biomoe.pretrain.targets``), or over every image of the step
(``contrastive``: InfoNCE across each window's representations, ``biomoe.pretrain.contrastive``;
a micro-batch then holds whole windows), or over the micro-batches of the step (``spread``:
variance and covariance terms on the embedding, ``biomoe.pretrain.spread``); a task with no
labels in the step adds 0. Each
micro-step therefore back-propagates its *summed* loss divided by that step-wide count, so the
maths do not depend on how the global batch is split into processes and accumulation steps
(BatchNorm and the contrastive task's negatives are per micro-batch, and every micro-batch is
the same block of the shuffled order whatever the split: see ``StepSampler``).
On CPU the run is bit-reproducible, and a resumed run ends with the same weights as one that
never stopped.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from biomoe.corpus.build import FEATURE_COLUMNS
from biomoe.errors import DataError, DivergenceError
from biomoe.model.spec import EMBED_DIM
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.pretrain.checkpointing import (
    check_fingerprint,
    checkpoint_path,
    load_state,
    remove_partial_writes,
    restore_rng,
    rng_state,
    run_fingerprint,
    save_state,
)
from biomoe.pretrain.contrastive import CONTRASTIVE
from biomoe.pretrain.data import (
    AugmentedWindowImages,
    StepSampler,
    TaskImages,
    WindowImages,
    check_tasks,
    item_signal_types,
    split_windows,
    whole_batch,
)
from biomoe.pretrain.distributed import (
    DistEnv,
    all_reduce_sum,
    barrier,
    gather_to_main,
    globalize_batchnorm,
)
from biomoe.pretrain.heads import MultiTaskModel, Views, objective_sums, target_counts
from biomoe.pretrain.params import PretrainJob, PretrainParams, SpreadParams
from biomoe.pretrain.schedule import adamw, warmup_cosine
from biomoe.pretrain.spread import SPREAD
from biomoe.pretrain.targets import MORPHOLOGY, TargetScaling
from biomoe.seeding import seed_everything

if TYPE_CHECKING:
    from biomoe.corpus.build import CorpusData
    from biomoe.imaging.params import ImageParams

Report = Callable[[Mapping[str, float], int], None]
"""Receives metrics and the optimizer step they belong to (rank 0 only)."""

LOSS, CORRECT, COUNT = 0, 1, 2
"""Rows of a ``[3, T]`` metric-sum tensor: summed loss, correct predictions (the regression:
summed absolute error; the contrastive task: retrieval hits), labelled images (the regression:
finite targets; the contrastive task: anchors)."""


def train(
    job: PretrainJob,
    corpus: CorpusData,
    corpus_sha256: str,
    run_dir: Path,
    env: DistEnv,
    *,
    resume: bool,
    report: Report | None = None,
) -> None:
    """Train (or resume) the run whose checkpoints live in ``run_dir``; the last checkpoint,
    marked ``finished``, holds the trained model; ``corpus_sha256`` identifies the corpus in
    the run's fingerprint."""
    cfg = job.pretrain
    seed_everything(cfg.seed)

    # Data: a window's images all go to one side of the split; each rank reads its blocks.
    # Class tasks first (no classes, no labels: no head), then the regression, then the
    # contrastive task (whose micro-batches hold whole windows: all their representations).
    check_tasks(corpus.index, corpus.classes, cfg.tasks, Path(corpus.images_dir))
    wanted = tuple(t for t in cfg.tasks if t not in (MORPHOLOGY, CONTRASTIVE, SPREAD))
    class_tasks = tuple(t for t in wanted if corpus.classes[t])
    regression = MORPHOLOGY in cfg.tasks
    views = _views(cfg, len(corpus.classes["representation"]), Path(corpus.images_dir))
    spread = cfg.spread if SPREAD in cfg.tasks else None
    tasks = (
        *class_tasks,
        *((MORPHOLOGY,) if regression else ()),
        *((CONTRASTIVE,) if views else ()),
        *((SPREAD,) if spread else ()),
    )
    per_item = views.count if views else 1  # images per dataset item
    item = "window" if views else "image"
    micro_batch = cfg.batch_size // per_item
    if env.is_main and class_tasks != wanted:
        skipped = sorted(set(wanted) - set(class_tasks))
        print(f"tasks {skipped}: no class in this corpus, so no head is trained", flush=True)
    train_rows, val_rows = split_windows(corpus.index, cfg.val_fraction, cfg.seed)
    scaling = TargetScaling.fit(train_rows, FEATURE_COLUMNS) if regression else None

    def images_of(rows: pd.DataFrame) -> TaskImages:
        targets = None if scaling is None else scaling.transform(rows)
        if views and cfg.contrastive.augment.views:
            return AugmentedWindowImages(
                corpus.images_dir,
                rows,
                class_tasks,
                corpus.classes["representation"],
                corpus.windows_file,
                _rendering(corpus),
                cfg.contrastive.augment,
                cfg.seed,
                targets,
            )
        if views:
            return WindowImages(corpus.images_dir, rows, class_tasks, views.count, targets)
        return TaskImages(corpus.images_dir, rows, class_tasks, targets)

    train_set, val_set = images_of(train_rows), images_of(val_rows)
    sampler = StepSampler(
        train_set,
        micro_batch=micro_batch,
        accum_steps=cfg.grad_accum_steps,
        num_replicas=env.world_size,
        rank=env.rank,
        seed=cfg.seed,
        groups=item_signal_types(corpus, train_set) if cfg.batches == "by_signal_type" else None,
    )
    if sampler.steps_per_epoch == 0:
        raise DataError(
            f"the training split has {len(train_set) * per_item} images, fewer than one global "
            f"batch (batch_size x processes x grad_accum_steps = "
            f"{sampler.global_batch * per_item})",
            file=Path(corpus.images_dir),
            hint="lower pretrain.batch_size or grad_accum_steps, or build a larger corpus",
        )
    loader = DataLoader(
        train_set,
        batch_size=micro_batch,
        sampler=sampler,
        collate_fn=whole_batch,
        num_workers=cfg.num_workers,
        pin_memory=env.device.type == "cuda",
        generator=torch.Generator(),  # leaves the global RNG alone, so resuming stays exact
    )
    steps_per_epoch = sampler.steps_per_epoch
    total_steps = cfg.schedule.epochs * steps_per_epoch

    # Model: every rank builds the same initial weights from the seed.
    img_size = job.img_size
    outputs = {t: len(corpus.classes[t]) for t in class_tasks}
    if regression:
        outputs[MORPHOLOGY] = len(FEATURE_COLUMNS)
    if views:
        outputs[CONTRASTIVE] = cfg.contrastive.projection_dim
    if spread:
        outputs[SPREAD] = EMBED_DIM
    model = MultiTaskModel(TinyBioMoE(img_size), outputs)
    if cfg.batchnorm == "sync" and env.distributed:
        globalize_batchnorm(model)
    dtype = torch.float64 if cfg.precision == "fp64" else torch.float32
    model.to(env.device, dtype)
    optimizer = adamw(model, cfg.lr, cfg.weight_decay)
    scheduler = warmup_cosine(
        optimizer,
        warmup_steps=cfg.schedule.warmup_steps,
        total_steps=total_steps,
        min_ratio=cfg.min_lr / cfg.lr,
    )
    weights = torch.tensor(
        [cfg.task_weights[t] for t in tasks], dtype=torch.float64, device=env.device
    )

    # State: fresh, or exactly where the last checkpoint left it.
    ckpt = checkpoint_path(run_dir)
    fingerprint = run_fingerprint(job, corpus_sha256, env.world_size)
    step, history = 0, []
    epoch_sums, window_sums = _zeros(len(tasks)), _zeros(len(tasks))
    if resume:
        state = load_state(ckpt)
        check_fingerprint(ckpt, state["fingerprint"], fingerprint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, history = state["step"], state["history"]
        epoch_sums, window_sums = state["meters"]["epoch"], state["meters"]["window"]
        restore_rng(state["rng"][env.rank])
        if env.is_main:
            print(f"resumed from {ckpt} at step {step}/{total_steps}", flush=True)
    elif env.is_main:
        ckpt.unlink(missing_ok=True)  # a fresh run must never be resumed as an older one
    if env.is_main:
        remove_partial_writes(run_dir)
    barrier(env)
    ddp = DistributedDataParallel(model, device_ids=_device_ids(env)) if env.distributed else model
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if env.device.type == "cuda" and cfg.precision == "auto"
        else contextlib.nullcontext()
    )

    saved_step = step if resume else None  # the step of the last good checkpoint

    def save(finished: bool) -> None:
        nonlocal saved_step
        saved_step = step
        rngs = gather_to_main(rng_state(), env)  # a collective: every rank takes part
        if env.is_main:
            save_state(
                ckpt,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "meters": {"epoch": epoch_sums, "window": window_sums},
                    "history": history,
                    "rng": rngs,
                    "fingerprint": fingerprint,
                    "finished": finished,
                    "classes": {
                        **{t: list(corpus.classes[t]) for t in class_tasks},
                        **({MORPHOLOGY: list(FEATURE_COLUMNS)} if regression else {}),
                        **({CONTRASTIVE: list(corpus.classes["representation"])} if views else {}),
                        **({SPREAD: []} if spread else {}),
                    },
                    "targets": scaling.as_dict() if scaling else {},
                },
            )
        barrier(env)

    if env.is_main:
        print(
            f"pretraining: {len(train_set)} train / {len(val_set)} val {item}s, tasks {tasks}, "
            f"{env.world_size} process(es) on {env.device.type}, global batch "
            f"{sampler.global_batch} {item}s ({sampler.global_batch * per_item} images), "
            f"{steps_per_epoch} steps/epoch, {total_steps} steps",
            flush=True,
        )
    batches = None
    window_seconds, window_images = 0.0, 0  # training time only: no evaluation, no saving
    while step < total_steps:
        started = time.perf_counter()
        epoch, step_in_epoch = divmod(step, steps_per_epoch)
        if batches is None:  # the start of an epoch, or the middle of one after a resume
            sampler.set_position(epoch, step_in_epoch)
            train_set.set_epoch(epoch)  # before iter: workers take the dataset as it is
            batches = iter(loader)
        micro_batches = [next(batches) for _ in range(cfg.grad_accum_steps)]

        # Labelled images per task in the whole step, all ranks: each task's loss divisor.
        labelled = sum(
            target_counts(y, z, regression, views, spread is not None) for _, y, z in micro_batches
        )
        labelled = all_reduce_sum(labelled.to(env.device), env)
        # DDP averages gradients over ranks; scaling by world_size turns that into the sum.
        scale = weights * env.world_size / labelled.clamp(min=1)

        ddp.train()
        step_sums = _zeros(len(tasks), env.device)
        for i, (images, labels, targets) in enumerate(micro_batches):
            last = i == len(micro_batches) - 1
            sync = contextlib.nullcontext() if last or not env.distributed else ddp.no_sync()
            with sync:
                with autocast:
                    logits = ddp(_to_input(images, env.device, dtype))
                loss_sum, correct = objective_sums(
                    logits, labels.to(env.device), targets.to(env.device), views, spread
                )
                (scale.to(loss_sum.dtype) * loss_sum).sum().backward()
            step_sums[LOSS] += loss_sum.detach().double()
            step_sums[CORRECT] += correct
        step_sums = all_reduce_sum(step_sums, env).cpu()
        step_sums[COUNT] = labelled.cpu()
        _check_finite(step_sums[LOSS], tasks, step + 1, ckpt, saved_step)
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        lr = scheduler.get_last_lr()[0]
        scheduler.step()
        step += 1
        epoch_sums += step_sums
        window_sums += step_sums
        window_images += sampler.global_batch * per_item
        window_seconds += time.perf_counter() - started

        if step % cfg.log_every == 0 or step == total_steps:
            metrics = {**summarize(window_sums, tasks, weights, "train"), "lr": lr}
            if env.is_main:
                speed = window_images / window_seconds
                print(
                    f"step {step:>6}/{total_steps} | epoch {epoch + 1} | "
                    f"loss {metrics['train_loss']:.4f} | lr {lr:.2e} | {speed:.1f} img/s",
                    flush=True,
                )
                if report is not None:
                    report({**metrics, "images_per_second": speed}, step)
            window_sums = _zeros(len(tasks))
            window_seconds, window_images = 0.0, 0

        if step % steps_per_epoch == 0:  # end of an epoch: validate, record, start afresh
            val_sums = evaluate(model, val_set, micro_batch, env, autocast, dtype, views, spread)
            metrics = {
                **summarize(epoch_sums, tasks, weights, "train"),
                **summarize(val_sums, tasks, weights, "val"),
            }
            history.append({"epoch": epoch + 1, "step": step, "metrics": metrics})
            if env.is_main:
                shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k.endswith("loss"))
                print(f"epoch {epoch + 1}: {shown}", flush=True)
                if report is not None:
                    report({f"epoch_{k}": v for k, v in metrics.items()}, step)
            epoch_sums = _zeros(len(tasks))
            batches = None

        if step % cfg.checkpoint_every == 0 or step == total_steps:
            save(finished=step == total_steps)


@torch.no_grad()
def evaluate(
    model: MultiTaskModel,
    val_set: TaskImages,
    batch_size: int,
    env: DistEnv,
    autocast: contextlib.AbstractContextManager[Any],
    dtype: torch.dtype,
    views: Views | None = None,
    spread: SpreadParams | None = None,
) -> Tensor:
    """Metric sums ``[3, T]`` over the validation set in batches of ``batch_size`` items
    (images, or windows with ``views``); rank r takes batches r, r + world, ..."""
    model.eval()
    regression = MORPHOLOGY in model.heads
    extra = int(regression) + int(views is not None) + int(spread is not None)
    n_tasks = val_set.labels.shape[1] + extra
    sums = _zeros(n_tasks, env.device)
    starts = range(env.rank * batch_size, len(val_set), env.world_size * batch_size)
    for start in starts:
        rows = range(start, min(start + batch_size, len(val_set)))
        images, labels, targets = val_set.__getitems__(rows)
        labels, targets = labels.to(env.device), targets.to(env.device)
        with autocast:
            logits = model(_to_input(images, env.device, dtype))
        loss_sum, correct = objective_sums(logits, labels, targets, views, spread)
        sums[LOSS] += loss_sum.double()
        sums[CORRECT] += correct
        counts = target_counts(labels, targets, regression, views, spread is not None)
        sums[COUNT] += counts.to(env.device)
    return all_reduce_sum(sums, env).cpu()


def summarize(sums: Tensor, tasks: Sequence[str], weights: Tensor, prefix: str) -> dict[str, float]:
    """Mean loss and accuracy per class task (the regression: mean absolute error, ``mae``, in
    robust-scaled units; ``spread``: the mean per-dimension standard deviation, ``std``), tasks
    with no labelled image left out, and the weighted total loss ``<prefix>_loss``."""
    metrics: dict[str, float] = {}
    total = 0.0
    for t, task in enumerate(tasks):
        count = float(sums[COUNT, t])
        if count == 0:
            continue
        mean_loss = float(sums[LOSS, t]) / count
        metrics[f"{prefix}_loss_{task}"] = mean_loss
        quality = {MORPHOLOGY: "mae", SPREAD: "std"}.get(task, "acc")
        metrics[f"{prefix}_{quality}_{task}"] = float(sums[CORRECT, t]) / count
        total += float(weights[t]) * mean_loss
    metrics[f"{prefix}_loss"] = total
    return metrics


def _views(cfg: PretrainParams, representations: int, where: Path) -> Views | None:
    """The contrastive task's grouping (None without it): per window, its representations and
    those of its augmented views; ``DataError`` when a window would have no positive or
    ``batch_size`` cannot hold two whole windows or more."""
    if CONTRASTIVE not in cfg.tasks:
        return None
    per_window = representations * (1 + cfg.contrastive.augment.views)
    if per_window < 2 or cfg.batch_size % per_window or cfg.batch_size < 2 * per_window:
        raise DataError(
            f"the contrastive task pairs a window's images: the corpus has {representations} "
            f"representation(s) and augment.views is {cfg.contrastive.augment.views}, so a "
            f"window has {per_window} image(s); it needs two or more, and pretrain.batch_size "
            f"({cfg.batch_size}) must be a multiple of them holding two windows or more",
            file=where,
            segment="representation",
            hint="render two or more representations or add augmented views, or change "
            "pretrain.batch_size",
        )
    return Views(per_window, cfg.contrastive.temperature)


def _rendering(corpus: CorpusData) -> ImageParams:
    """The image parameters the corpus was rendered with: its augmented views need them."""
    if corpus.rendering is None:
        raise DataError(
            "the corpus does not record the image parameters it was rendered with, which the "
            "contrastive task's augmented views are rendered with",
            file=Path(corpus.images_dir).parent / "rendering.json",
            hint="rebuild the corpus (`biomoe corpus`) or set contrastive.augment.views: 0",
        )
    return corpus.rendering


def _check_finite(
    losses: Tensor, tasks: Sequence[str], step: int, ckpt: Path, saved_step: int | None
) -> None:
    """``DivergenceError`` naming the step and the tasks whose summed loss (all ranks, so every
    rank stops together) is NaN or infinite, before the optimizer applies that step."""
    bad = [
        task for task, loss in zip(tasks, losses.tolist(), strict=True) if not math.isfinite(loss)
    ]
    if not bad:
        return
    kept = (
        f"the last good checkpoint {ckpt} (step {saved_step}) is kept"
        if saved_step is not None
        else "no checkpoint had been written yet"
    )
    raise DivergenceError(
        f"the loss of task(s) {', '.join(bad)} is not finite at optimizer step {step}: the run "
        f"stopped before applying it; {kept} (lower pretrain.lr, set grad_clip, or check the "
        "corpus)"
    )


def _zeros(n_tasks: int, device: torch.device | str = "cpu") -> Tensor:
    return torch.zeros(3, n_tasks, dtype=torch.float64, device=device)


def _to_input(images: Tensor, device: torch.device, dtype: torch.dtype) -> Tensor:
    """uint8 ``[B, 3, S, S]`` -> values in ``[0, 1]`` on ``device``, the backbone's input."""
    return images.to(device, non_blocking=True).to(dtype).div_(255.0)


def _device_ids(env: DistEnv) -> list[int] | None:
    return [env.device.index] if env.device.type == "cuda" else None
