"""Typed pipeline parameters, read from ``params.yaml``.

``params.yaml`` is the one source of defaults: every model here forbids unknown keys and
declares no field defaults that a user could not see in that file, so a typo or a missing
value fails loudly at load time with the dotted key that is wrong.
"""

from __future__ import annotations

import itertools
import re
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MODALITIES: tuple[str, ...] = ("Bvp", "Eda", "Resp", "SpO2")
PAIN_LABELS: tuple[str, ...] = ("No", "Low", "High")
SPLITS: tuple[str, ...] = ("train", "validation", "test")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSizes(_Section):
    train: int = Field(ge=1)
    validation: int = Field(ge=1)
    test: int = Field(ge=0)


class DemoParams(_Section):
    """Deterministic demo dataset in the AI4PAIN 2025 layout."""

    seed: int
    fs: int = Field(gt=0)
    subjects: SplitSizes
    n_low: int = Field(ge=1, description="LOW stimuli per subject")
    n_high: int = Field(ge=1, description="HIGH stimuli per subject")
    segment_seconds: float = Field(gt=0)
    segment_jitter_seconds: float = Field(ge=0)
    baseline_seconds: float = Field(gt=0)
    rest_seconds: float = Field(gt=0)


class IngestParams(_Section):
    fs: int = Field(gt=0)
    modalities: tuple[str, ...]
    include_rest: bool


class ValidateParams(_Section):
    expected_fs: int = Field(gt=0)
    min_seconds: float = Field(gt=0)
    max_seconds: float = Field(gt=0)
    max_nan_fraction: float = Field(ge=0, le=1)
    flat_line_min_std: float = Field(ge=0)
    ranges: dict[str, tuple[float, float]]
    max_failures_listed: int = Field(ge=1, description="failures listed per rule in the report")

    @model_validator(mode="after")
    def _ordered(self) -> ValidateParams:
        if self.min_seconds > self.max_seconds:
            raise ValueError("validate.min_seconds must not exceed validate.max_seconds")
        for name, (low, high) in self.ranges.items():
            if low > high:
                raise ValueError(f"validate.ranges.{name}: lower bound {low} > upper bound {high}")
        return self


Colormap = Literal["viridis", "twilight"]
"""Colour tables defined in ``biomoe.imaging.colormap`` (twilight is cyclic, for angles)."""

Representation = Literal[
    "waveform", "spectrogram", "phase", "recurrence", "gasf", "gadf", "mtf", "scalogram"
]


class SpectrogramParams(_Section):
    """STFT (Hann window) cropped to ``max_freq_hz``, log-power over ``top_db`` of dynamic range.
    The window needs at least ``n_fft`` samples (one full frame)."""

    n_fft: int = Field(gt=1)
    hop_length: int = Field(ge=1)
    max_freq_hz: float = Field(gt=0)
    top_db: float = Field(gt=0)
    colormap: Colormap


class PhaseParams(_Section):
    """Angle of the spectrogram's STFT (same ``n_fft``, ``hop_length``, ``max_freq_hz``);
    bins more than ``mask_below_db`` under the window's peak power carry no reliable phase
    and are drawn grey. ``colormap`` should be cyclic."""

    mask_below_db: float = Field(gt=0)
    colormap: Colormap


class WaveformParams(_Section):
    """Line plot: ``line_width`` as a fraction of the image size (at least one pixel);
    per-window scaling clips the ``clip_quantile`` tails on each side; the slope is a central
    difference over ``slope_span`` of the window (smooths sensor noise; at least 2 columns)."""

    line_width: float = Field(gt=0, lt=0.5)
    clip_quantile: float = Field(ge=0, lt=0.5)
    slope_span: float = Field(gt=0, le=0.5)


class RecurrenceParams(_Section):
    """Recurrence plot of the window's ``size``-point PAA, delay-embedded in ``dimension``
    dimensions ``time_delay`` points apart. ``threshold``: ``none`` draws the distance itself
    (scaled to the window's largest); ``point`` marks the ``percentage`` % closest pairs;
    ``distance`` marks pairs closer than ``percentage`` % of the largest distance."""

    dimension: int = Field(ge=1)
    time_delay: int = Field(ge=1)
    threshold: Literal["none", "point", "distance"]
    percentage: float = Field(ge=0, le=100)
    colormap: Colormap


class GramianParams(_Section):
    """Gramian angular fields (``gasf``: summation, ``gadf``: difference) of the window's
    ``size``-point PAA min-max scaled to [-1, 1]; colours span [-1, 1]."""

    colormap: Colormap


class MarkovParams(_Section):
    """Markov transition field over ``n_bins`` quantile bins of the window's samples
    (needs ``n_bins + 1`` samples); colours are relative to the window's likeliest transition."""

    n_bins: int = Field(ge=2, le=64)
    colormap: Colormap


class ScalogramParams(_Section):
    """Morlet continuous wavelet transform magnitude (``omega0``: centre frequency in radians
    per unit scale; about omega0 / 2 pi cycles per envelope width) at ``n_scales`` frequencies
    log-spaced from ``max_freq_hz`` (top row) to ``min_freq_hz`` (bottom), over ``top_db`` of
    dynamic range. The window needs one period of ``min_freq_hz``."""

    min_freq_hz: float = Field(gt=0)
    max_freq_hz: float = Field(gt=0)
    n_scales: int = Field(ge=2)
    omega0: float = Field(ge=5.0)
    top_db: float = Field(gt=0)
    colormap: Colormap

    @model_validator(mode="after")
    def _band(self) -> ScalogramParams:
        if self.min_freq_hz >= self.max_freq_hz:
            raise ValueError("images.scalogram.min_freq_hz must be below max_freq_hz")
        return self


class ImageParams(_Section):
    """``threads``: windows rendered in parallel (0: one per available core); the images never
    depend on it."""

    size: int = Field(ge=16)
    representations: tuple[Representation, ...] = Field(min_length=1)
    shard_size: int = Field(ge=1)
    threads: int = Field(ge=0)
    waveform: WaveformParams
    spectrogram: SpectrogramParams
    phase: PhaseParams
    recurrence: RecurrenceParams
    gramian: GramianParams
    markov: MarkovParams
    scalogram: ScalogramParams
    gallery_per_representation: int = Field(ge=1)


class ModelParams(_Section):
    img_size: int = Field(ge=16)


SIMULATED_TYPES: tuple[str, ...] = ("ecg", "emg", "eeg", "ppg", "rsp", "eda")
CORPUS_FORMATS: tuple[str, ...] = ("ts", "arff", "txt", "wfdb", "edf", "csv", "parquet")
_NAME = r"^[a-z0-9][a-z0-9_]*$"


class SimulatedSourceParams(_Section):
    """``windows_per_signal`` simulated windows of each type; each window draws its SNR (dB,
    white noise) from ``snr_db`` and gets an artefact with ``artefact_probability``."""

    signal_types: tuple[Literal["ecg", "emg", "eeg", "ppg", "rsp", "eda"], ...]
    windows_per_signal: int = Field(ge=0)
    snr_db: tuple[float, float]
    artefact_probability: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> SimulatedSourceParams:
        if self.snr_db[0] > self.snr_db[1]:
            raise ValueError(f"simulated.snr_db: lower bound {self.snr_db[0]} > upper bound")
        return self


class PackagedSourceParams(_Section):
    """Real recordings shipped inside installed packages (names in ``biomoe.data.packaged``).
    A dataset whose package is missing is skipped with a message, or fails when ``required``."""

    datasets: tuple[str, ...]
    max_windows_per_dataset: int = Field(ge=1)
    required: bool


class UserSourceParams(_Section):
    """A user dataset read by the reader of ``format`` from ``path`` (a file or a folder).

    ``fs`` is required for formats that do not store it (ts, arff, txt, csv, parquet) and, if
    given, must match WFDB/EDF headers. ``channels`` keeps those channels (all when None).
    Table options (csv/parquet, None = unused): ``layout`` wide (one column per channel) or
    long (``channel_column`` + ``value_column``); ``recording_column`` splits rows into
    recordings; ``label_column`` gives each recording its class label.
    """

    name: str = Field(pattern=_NAME)
    path: str
    format: Literal["ts", "arff", "txt", "wfdb", "edf", "csv", "parquet"]
    signal_type: str = Field(pattern=_NAME)
    fs: float | None = Field(gt=0)
    max_windows: int = Field(ge=1)
    channels: tuple[str, ...] | None = None
    layout: Literal["wide", "long"] | None = None
    channel_column: str | None = None
    value_column: str | None = None
    recording_column: str | None = None
    label_column: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> UserSourceParams:
        if self.fs is None and self.format not in ("wfdb", "edf"):
            raise ValueError(f"user source {self.name!r}: format {self.format} needs fs")
        if self.format in ("csv", "parquet") and self.layout is None:
            raise ValueError(f"user source {self.name!r}: {self.format} needs layout wide|long")
        if self.layout == "long" and not (self.channel_column and self.value_column):
            raise ValueError(
                f"user source {self.name!r}: layout long needs channel_column and value_column"
            )
        return self


class LabelEstimateParams(_Section):
    """How a real recording of one signal type gets its rate and quality labels: the dominant
    rhythm is searched in ``rate_hz`` (autocorrelation); the SNR compares power inside
    ``band_hz`` with the white-noise floor above it (None: that label stays unknown)."""

    rate_hz: tuple[float, float] | None
    band_hz: tuple[float, float] | None

    @model_validator(mode="after")
    def _ordered(self) -> LabelEstimateParams:
        for name, pair in (("rate_hz", self.rate_hz), ("band_hz", self.band_hz)):
            if pair is not None and not 0 <= pair[0] < pair[1]:
                raise ValueError(f"{name} must be 0 <= low < high, got {list(pair)}")
        return self


class CorpusParams(_Section):
    """The pretraining corpus: every source's recordings resampled to ``fs`` and cut into
    ``window_seconds`` windows; a window with more than ``max_nan_fraction`` missing samples is
    dropped. ``rate_bin_edges_hz`` / ``quality_bin_edges_db`` bin the rate and SNR labels."""

    fs: int = Field(gt=0)
    window_seconds: float = Field(gt=0)
    max_nan_fraction: float = Field(ge=0, lt=1)
    rate_bin_edges_hz: tuple[float, ...] = Field(min_length=1)
    quality_bin_edges_db: tuple[float, ...] = Field(min_length=1)
    simulated: SimulatedSourceParams
    packaged: PackagedSourceParams
    user: tuple[UserSourceParams, ...]
    estimate: dict[str, LabelEstimateParams]

    @model_validator(mode="after")
    def _consistent(self) -> CorpusParams:
        for name in ("rate_bin_edges_hz", "quality_bin_edges_db"):
            edges = getattr(self, name)
            if any(b <= a for a, b in itertools.pairwise(edges)):
                raise ValueError(f"corpus.{name} must increase strictly, got {list(edges)}")
        names = [source.name for source in self.user]
        if len(set(names)) != len(names):
            raise ValueError(f"corpus.user: source names must be unique, got {names}")
        return self


class PretrainParams(_Section):
    """Multi-task pretraining. ``batch_size`` images per process per micro-step; one optimizer
    step sees ``batch_size * nproc * grad_accum_steps`` images (the global batch). The lr warms
    up linearly for ``warmup_steps`` optimizer steps, then follows a cosine down to ``min_lr``.
    ``batchnorm: sync`` computes BatchNorm statistics over all processes' micro-batches (the maths
    of one process with the global micro-batch); ``local`` keeps them per process (plain DDP).
    ``device: auto`` takes CUDA when available (NCCL), else CPU (gloo). ``precision: auto`` is
    bf16 autocast on CUDA and fp32 on CPU; ``fp64`` (CPU) is for numerical checks, where float
    rounding is too small for Adam to amplify. Checkpoints every ``checkpoint_every`` optimizer
    steps; a log line every ``log_every``."""

    seed: int
    corpus: CorpusParams
    tasks: tuple[
        Literal["signal_type", "representation", "rate_bin", "quality_bin", "dataset_label"], ...
    ] = Field(min_length=1)
    task_weights: dict[str, float]
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    grad_accum_steps: int = Field(ge=1)
    lr: float = Field(gt=0)
    min_lr: float = Field(ge=0)
    warmup_steps: int = Field(ge=0)
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
        if self.min_lr > self.lr:
            raise ValueError(f"pretrain.min_lr ({self.min_lr}) must not exceed lr ({self.lr})")
        return self


class PipelineBackbone(_Section):
    """The pretrain stage's ``models/backbone/model.pth``."""

    source: Literal["pipeline"]


class FileBackbone(_Section):
    """Any checkpoint in the published format (e.g. the authors' ``Tiny-BioMoE.pth``, made for
    img_size 224); a relative ``path`` is read from the project root."""

    source: Literal["file"]
    path: str = Field(min_length=1)


class RegistryBackbone(_Section):
    """A registered backbone, by ``alias`` or by ``version`` (exactly one), downloaded from MLflow
    (``register.tracking_uri`` or ``--tracking-uri``) and checked against its sha256 tag."""

    source: Literal["registry"]
    name: str = Field(min_length=1)
    alias: str | None = Field(default=None, min_length=1)
    version: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_reference(self) -> RegistryBackbone:
        if (self.alias is None) == (self.version is None):
            raise ValueError("embed.backbone (source registry) needs exactly one of alias, version")
        return self


BackboneSource = Annotated[
    PipelineBackbone | FileBackbone | RegistryBackbone, Field(discriminator="source")
]


class EmbedParams(_Section):
    """``engine``: ``threaded`` (default) and ``fast`` run the optimised inference copy of the
    backbone (``biomoe.model.inference``, equal to eager within 1e-4); ``eager`` the model as
    published. Embeddings are computed in batches of ``batch_size`` per image shard, so they do
    not depend on the runner or its number of workers."""

    batch_size: int = Field(ge=1)
    engine: Literal["threaded", "fast", "eager"]
    backbone: BackboneSource


class LocalRunnerParams(_Section):
    """Shards run in this process's pool: ``threads`` or ``processes``; ``workers`` 0 = one per
    available core."""

    kind: Literal["threads", "processes"]
    workers: int = Field(ge=0)


class DaskRunnerParams(_Section):
    """``address`` of a running Dask scheduler (``tcp://host:8786``), or null for a
    ``LocalCluster`` of ``n_workers`` processes with ``threads_per_worker`` threads each."""

    address: str | None
    n_workers: int = Field(ge=1)
    threads_per_worker: int = Field(ge=1)


class ScaleoutParams(_Section):
    """Where image and embedding shards run (``biomoe.scaleout``): ``local`` or ``dask``.
    Outputs are byte-identical whichever runs them."""

    runner: Literal["local", "dask"]
    local: LocalRunnerParams
    dask: DaskRunnerParams


class FusionParams(_Section):
    """Which embeddings feed the head: ``modalities`` are concatenated; the ``representations``
    of one modality are concatenated or added (``combine``), as the Tiny-BioMoE authors study."""

    modalities: tuple[str, ...] = Field(min_length=1)
    representations: tuple[Representation, ...] = Field(min_length=1)
    combine: Literal["concat", "add"]


class MlpParams(_Section):
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


class LogisticParams(_Section):
    """scikit-learn ``LogisticRegression`` (multinomial, lbfgs) on standardised features."""

    C: float = Field(gt=0)
    max_iter: int = Field(ge=1)


class TrainParams(_Section):
    seed: int
    head: Literal["mlp", "logistic"]
    class_weight: Literal["balanced", "none"]
    fusion: FusionParams
    mlp: MlpParams
    logistic: LogisticParams


class BootstrapParams(_Section):
    """Percentile intervals from ``resamples`` draws of whole test subjects (``unit: subject``,
    windows of one person are not independent) or of samples."""

    resamples: int = Field(ge=10)
    confidence: float = Field(gt=0, lt=1)
    unit: Literal["subject", "sample"]


class SvmBaselineParams(_Section):
    """The challenge-style baseline: an RBF SVM on per-window statistics of the raw signals."""

    C: float = Field(gt=0)
    gamma: float | Literal["scale", "auto"]


class EvaluateParams(_Section):
    """``protocol``: ``challenge`` (fit on train, score validation; test labels are absent),
    ``kfold`` (subject-grouped, stratified, ``folds`` folds over the labelled subjects) or
    ``loso`` (leave one subject out)."""

    seed: int
    protocol: Literal["challenge", "kfold", "loso"]
    folds: int = Field(ge=2)
    bootstrap: BootstrapParams
    svm: SvmBaselineParams
    random_backbone: bool


class PromotionParams(_Section):
    """A challenger replaces the champion only when its validation ``metric`` beats the
    champion's, on the same validation data, by more than ``margin``."""

    metric: Literal["macro_f1", "accuracy"]
    margin: float = Field(ge=0, lt=1)


class RegisterParams(_Section):
    tracking_uri: str
    experiment: str
    model_name: str
    backbone_name: str
    promotion: PromotionParams


_CRON_FIELD = r"^[0-9A-Za-z*/,?-]+$"


class ScheduleParams(_Section):
    """Scheduled retraining (``flows/deploy.py``): the Prefect deployment ``deployment`` runs the
    chain on ``cron`` (five fields) in the IANA ``timezone``; ``active: false`` registers it
    paused. ``work_pool`` is the process pool ``deploy`` targets (``serve`` needs none). Each run
    publishes a markdown artifact under ``artifact_key`` linking to the MLflow UI at
    ``mlflow_ui_url``."""

    deployment: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    cron: str
    timezone: str = Field(min_length=1)
    active: bool
    work_pool: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    tags: tuple[str, ...]
    artifact_key: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    mlflow_ui_url: str = Field(pattern=r"^https?://[^\s/]+")

    @model_validator(mode="after")
    def _valid(self) -> ScheduleParams:
        fields = self.cron.split()
        if len(fields) != 5 or not all(re.match(_CRON_FIELD, f) for f in fields):
            raise ValueError(
                f"schedule.cron {self.cron!r} must have five fields: minute hour day-of-month "
                "month day-of-week (e.g. '0 3 * * *')"
            )
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"schedule.timezone {self.timezone!r} is not an IANA time zone "
                "(e.g. UTC, Europe/Athens)"
            ) from exc
        return self


class Params(_Section):
    demo: DemoParams
    ingest: IngestParams
    validate_: ValidateParams = Field(alias="validate")
    images: ImageParams
    model: ModelParams
    pretrain: PretrainParams
    embed: EmbedParams
    train: TrainParams
    evaluate: EvaluateParams
    registry: RegisterParams = Field(alias="register")
    scaleout: ScaleoutParams
    schedule: ScheduleParams

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.model.img_size != self.images.size:
            raise ValueError(
                f"model.img_size ({self.model.img_size}) must equal images.size "
                f"({self.images.size}): the backbone sees the rendered images as they are"
            )
        unknown = set(self.ingest.modalities) - set(MODALITIES)
        if unknown:
            raise ValueError(f"ingest.modalities has unknown names {sorted(unknown)}")
        fusion = self.train.fusion
        if not set(fusion.modalities) <= set(self.ingest.modalities):
            raise ValueError(
                f"train.fusion.modalities {list(fusion.modalities)} must be among "
                f"ingest.modalities {list(self.ingest.modalities)}"
            )
        if not set(fusion.representations) <= set(self.images.representations):
            raise ValueError(
                f"train.fusion.representations {list(fusion.representations)} must be among "
                f"images.representations {list(self.images.representations)}"
            )
        return self

    def as_flat_dict(self) -> dict[str, Any]:
        """Dotted-key view (``train.lr``), as logged to MLflow and named in dvc.yaml."""
        return flatten(self.model_dump(by_alias=True, mode="json"))


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}``; lists stay whole (one value)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


class ParamsError(ValueError):
    """params.yaml is missing, unreadable or breaks a rule; the message names the key."""


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: parameter file not found (run from the project root)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ParamsError(f"{path}: {problems}") from exc
