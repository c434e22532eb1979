"""The pretrain section: multi-task pretraining of the backbone."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from biomoe.corpus.params import Task
from biomoe.section import Section

PretrainTask = Task | Literal["morphology", "contrastive", "spread"]
"""A corpus class task, ``morphology`` (regression of the windows' physiological features),
``contrastive`` (InfoNCE across each window's representations; needs no label) or ``spread``
(variance and covariance terms on the embedding; needs no label)."""


class AugmentParams(Section):
    """The contrastive task's augmented views (``biomoe.pretrain.augment``): ``views`` per
    window and epoch, each rendered in every representation (0: the representations alone are
    the positives). Each augmentation is applied with ``probability``; a 0 (or None) turns it
    off."""

    views: int = Field(ge=0)
    probability: float = Field(ge=0, le=1)
    shift_fraction: float = Field(ge=0, lt=1)
    gain_std: float = Field(ge=0)
    lowpass_hz: tuple[float, float] | None
    noise_snr_db: tuple[float, float] | None
    mask_fraction: float = Field(ge=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> AugmentParams:
        for name in ("lowpass_hz", "noise_snr_db"):
            pair = getattr(self, name)
            if pair is not None and pair[0] > pair[1]:
                raise ValueError(f"augment.{name}: lower bound {pair[0]} > upper bound")
        if self.lowpass_hz is not None and self.lowpass_hz[0] <= 0:
            raise ValueError("augment.lowpass_hz must be positive")
        return self


class ContrastiveParams(Section):
    """The contrastive task: similarities of L2-normalised projections (``projection_dim``)
    over ``temperature``; a window's positives are its representations and those of its
    ``augment.views`` augmented views. With it in ``pretrain.tasks``, a micro-batch takes whole
    windows: ``batch_size`` must be a multiple of the images per window, two windows' worth or
    more."""

    temperature: float = Field(gt=0)
    projection_dim: int = Field(ge=1)
    augment: AugmentParams


class SpreadParams(Section):
    """The ``spread`` task (``biomoe.pretrain.spread``): every embedding dimension's standard
    deviation over a micro-batch is held up to ``target_std`` (a hinge), and the off-diagonal
    covariances are pushed to 0 with ``covariance_weight`` beside it."""

    target_std: float = Field(gt=0)
    covariance_weight: float = Field(ge=0)


class RecipeParams(Section):
    """How much compute a pretraining run spends: every corpus source's window cap times
    ``corpus_scale``, ``epochs`` passes over that corpus, and an lr warm-up of ``warmup_steps``
    optimizer steps."""

    corpus_scale: int = Field(ge=1)
    epochs: int = Field(ge=1)
    warmup_steps: int = Field(ge=0)


class PretrainParams(Section):
    """Multi-task pretraining under the recipe ``recipe`` names (one of ``recipes``: the same
    code path at another compute). ``batch_size`` images per process per micro-step; one
    optimizer step sees ``batch_size * nproc * grad_accum_steps`` images (the global batch).
    ``batches: by_signal_type`` fills every micro-batch with windows of one signal type (the
    contrastive negatives and the spread task's variances then lie within a type); ``mixed``
    draws them from the whole corpus.
    The lr warms up linearly for the recipe's ``warmup_steps``, then follows a cosine down to
    ``min_lr``.
    ``batchnorm: sync`` computes BatchNorm statistics over all processes' micro-batches (the maths
    of one process with the global micro-batch); ``local`` keeps them per process (plain DDP).
    ``device: auto`` takes CUDA when available (NCCL), else CPU (gloo). ``precision: auto`` is
    bf16 autocast on CUDA and fp32 on CPU; ``fp64`` (CPU) is for numerical checks, where float
    rounding is too small for Adam to amplify. Checkpoints every ``checkpoint_every`` optimizer
    steps; a log line every ``log_every``."""

    seed: int
    tasks: tuple[PretrainTask, ...] = Field(min_length=1)
    task_weights: dict[str, float]
    contrastive: ContrastiveParams
    spread: SpreadParams
    recipe: str
    recipes: dict[str, RecipeParams] = Field(min_length=1)
    batches: Literal["mixed", "by_signal_type"]
    batch_size: int = Field(ge=1)
    grad_accum_steps: int = Field(ge=1)
    lr: float = Field(gt=0)
    min_lr: float = Field(ge=0)
    weight_decay: float = Field(ge=0)
    grad_clip: float = Field(ge=0, description="max global grad norm; 0 turns clipping off")
    val_fraction: float = Field(gt=0, lt=1)
    batchnorm: Literal["sync", "local"]
    nproc: int = Field(ge=1, description="processes on this machine (torchrun --nproc-per-node)")
    device: Literal["auto", "cpu", "cuda"]
    precision: Literal["auto", "fp32", "fp64"]
    num_workers: int = Field(ge=0, description="DataLoader workers per process")
    checkpoint_every: int = Field(ge=1)
    log_every: int = Field(ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> PretrainParams:
        missing = set(self.tasks) - set(self.task_weights)
        if missing:
            raise ValueError(f"pretrain.task_weights lacks a weight for {sorted(missing)}")
        negative = sorted(t for t, w in self.task_weights.items() if w < 0)
        if negative:
            raise ValueError(f"pretrain.task_weights must not be negative: {negative}")
        if self.recipe not in self.recipes:
            raise ValueError(
                f"pretrain.recipe {self.recipe!r} is not one of pretrain.recipes "
                f"{sorted(self.recipes)}"
            )
        if self.min_lr > self.lr:
            raise ValueError(f"pretrain.min_lr ({self.min_lr}) must not exceed lr ({self.lr})")
        return self

    @property
    def schedule(self) -> RecipeParams:
        """The recipe this run follows: its corpus scale, epochs and warm-up."""
        return self.recipes[self.recipe]


class PretrainJob(Section):
    """What every training process is given: the pretrain section and the image size
    (``images.size``). The launcher writes it as ``params.json`` for the torchrun workers."""

    pretrain: PretrainParams
    img_size: int = Field(ge=32)
