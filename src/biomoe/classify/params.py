"""The train and evaluate sections: fusion, heads, evaluation protocol and baselines."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from biomoe.imaging.params import Representation
from biomoe.section import Section


class FusionParams(Section):
    """Which embeddings feed the head: ``modalities`` are concatenated; the ``representations``
    of one modality are concatenated or added (``combine``), as the Tiny-BioMoE authors study."""

    modalities: tuple[str, ...] = Field(min_length=1)
    representations: tuple[Representation, ...] = Field(min_length=1)
    combine: Literal["concat", "add"]


class MlpParams(Section):
    """The MLP head; early stopping watches the validation loss on ``early_stopping_fraction`` of
    the training subjects (held out from fitting) and keeps the best epoch; ``patience`` 0
    trains ``max_epochs`` on every training subject."""

    hidden: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    max_epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    patience: int = Field(ge=0)
    early_stopping_fraction: float = Field(gt=0, lt=1)


class LogisticParams(Section):
    """scikit-learn ``LogisticRegression`` (multinomial, lbfgs) on standardised features."""

    C: float = Field(gt=0)
    max_iter: int = Field(ge=1)


class TrainParams(Section):
    seed: int
    head: Literal["mlp", "logistic"]
    class_weight: Literal["balanced", "none"]
    fusion: FusionParams
    mlp: MlpParams
    logistic: LogisticParams


class BootstrapParams(Section):
    """Percentile intervals from ``resamples`` draws of whole test subjects (``unit: subject``,
    windows of one person are not independent) or of samples."""

    resamples: int = Field(ge=10)
    confidence: float = Field(gt=0, lt=1)
    unit: Literal["subject", "sample"]


class SvmBaselineParams(Section):
    """The challenge-style baseline: an RBF SVM on per-window statistics of the raw signals."""

    C: float = Field(gt=0)
    gamma: float | Literal["scale", "auto"]


class PhysiologicalParams(Section):
    """A physiologist's baseline: logistic regression on the neurokit2 window features."""

    C: float = Field(gt=0)
    max_iter: int = Field(ge=1)


class MiniRocketParams(Section):
    """A time-series practitioner's baseline: MiniRocket with ``num_kernels`` kernels (drawn
    from ``seed``) on windows cut or padded to ``seconds``, then a ridge classifier."""

    num_kernels: int = Field(ge=84, description="MiniRocket rounds it down to a multiple of 84")
    seed: int
    seconds: float = Field(gt=0)


class EvaluateParams(Section):
    """``protocol``: ``challenge`` (fit on train, score validation; test labels are absent),
    ``kfold`` (subject-grouped, stratified, ``folds`` folds over the labelled subjects) or
    ``loso`` (leave one subject out)."""

    seed: int
    protocol: Literal["challenge", "kfold", "loso"]
    folds: int = Field(ge=2)
    bootstrap: BootstrapParams
    svm: SvmBaselineParams
    physiological: PhysiologicalParams
    minirocket: MiniRocketParams
    random_backbone: bool
