"""Typed pipeline parameters, read from ``params.yaml``.

``params.yaml`` is the one source of defaults: every model here forbids unknown keys and
declares no field defaults that a user could not see in that file, so a typo or a missing
value fails loudly at load time with the dotted key that is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

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


class SpectrogramParams(_Section):
    """STFT (Hann window) cropped to ``max_freq_hz``, log-power over ``top_db`` of dynamic range."""

    n_fft: int = Field(gt=1)
    hop_length: int = Field(ge=1)
    max_freq_hz: float = Field(gt=0)
    top_db: float = Field(gt=0)


class WaveformParams(_Section):
    """Line plot: ``line_width`` as a fraction of the image size (at least one pixel);
    per-window scaling clips the ``clip_quantile`` tails on each side; the slope is a central
    difference over ``slope_span`` of the window (smooths sensor noise; at least 2 columns)."""

    line_width: float = Field(gt=0, lt=0.5)
    clip_quantile: float = Field(ge=0, lt=0.5)
    slope_span: float = Field(gt=0, le=0.5)


class ImageParams(_Section):
    size: int = Field(ge=16)
    representations: tuple[Literal["waveform", "spectrogram"], ...] = Field(min_length=1)
    shard_size: int = Field(ge=1)
    waveform: WaveformParams
    spectrogram: SpectrogramParams
    gallery_per_representation: int = Field(ge=1)


class ModelParams(_Section):
    img_size: int = Field(ge=16)


class CorpusParams(_Section):
    """Simulated pretraining corpus: ``windows_per_signal`` windows of each signal type."""

    signal_types: tuple[Literal["ecg", "emg", "ppg", "rsp", "eda"], ...]
    windows_per_signal: int = Field(ge=1)
    window_seconds: float = Field(gt=0)
    fs: int = Field(gt=0)


class PretrainParams(_Section):
    seed: int
    corpus: CorpusParams
    tasks: tuple[Literal["signal_type", "representation"], ...]
    task_weights: dict[str, float]
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    val_fraction: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _weights_cover_tasks(self) -> PretrainParams:
        missing = set(self.tasks) - set(self.task_weights)
        if missing:
            raise ValueError(f"pretrain.task_weights lacks a weight for {sorted(missing)}")
        return self


class EmbedParams(_Section):
    batch_size: int = Field(ge=1)


class TrainParams(_Section):
    seed: int
    hidden: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)


class RegisterParams(_Section):
    tracking_uri: str
    experiment: str
    model_name: str
    backbone_name: str


class Params(_Section):
    demo: DemoParams
    ingest: IngestParams
    validate_: ValidateParams = Field(alias="validate")
    images: ImageParams
    model: ModelParams
    pretrain: PretrainParams
    embed: EmbedParams
    train: TrainParams
    registry: RegisterParams = Field(alias="register")

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
        return self

    def as_flat_dict(self) -> dict[str, Any]:
        """Dotted-key view (``train.lr``), as logged to MLflow and named in dvc.yaml."""
        return _flatten(self.model_dump(by_alias=True, mode="json"))


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{dotted}."))
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
