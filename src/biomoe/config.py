"""The params schema: ``params.yaml`` read into one typed, validated ``Params``.

``params.yaml`` is the one source of defaults. Each package owns its section's model and its
names (``biomoe.imaging.params`` the representations, ``biomoe.data.params`` the modalities,
...); this module assembles them, adds the rules that tie sections together, and reads the
file. Every model forbids unknown keys, so a typo or a missing value fails at load time naming
the dotted key. Section names are the attribute names (``params.validate``, ``params.register``).
"""

from __future__ import annotations

import re
import warnings
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from biomoe.classify.params import EvaluateParams, TrainParams
from biomoe.corpus.params import CorpusParams
from biomoe.data.params import MODALITIES, DemoParams, IngestParams
from biomoe.embed.params import EmbedParams
from biomoe.imaging.params import ImageParams
from biomoe.numerics import NumericsParams
from biomoe.pretrain.params import PretrainParams
from biomoe.registry.params import BackboneSource, RegisterParams
from biomoe.scaleout.params import ScaleoutParams
from biomoe.section import Section
from biomoe.serve.params import ServeParams
from biomoe.validation.params import ValidateParams


class EmbedSection(EmbedParams):
    """The embed section: the engine and batch size, and where the backbone comes from
    (``biomoe.registry.source`` resolves it to a checkpoint file)."""

    backbone: BackboneSource


_CRON_FIELD = r"^[0-9A-Za-z*/,?-]+$"


class ScheduleParams(Section):
    """Scheduled retraining (``flows/deploy.py``): the Prefect deployment ``deployment`` runs the
    chain on ``cron`` (five fields) in the IANA ``timezone``; ``active: false`` registers it
    paused. ``work_pool`` is the process pool ``deploy`` targets (``serve`` needs none). Each run
    publishes a markdown artifact under ``artifact_key`` linking to the MLflow UI at
    ``mlflow_ui_url``.

    Faults: a stage that fails because a service was unreachable (the MLflow server, the DVC
    remote) runs again up to ``retries`` times, after ``retry_delay_s``, then twice as long each
    time; a run waits up to ``lock_timeout_s`` for another run on the same project to finish;
    a stage still running after its ``stage_timeout_s`` entry is stopped (every stage of the
    pipeline needs one)."""

    deployment: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    cron: str
    timezone: str = Field(min_length=1)
    active: bool
    work_pool: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    tags: tuple[str, ...]
    artifact_key: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    mlflow_ui_url: str = Field(pattern=r"^https?://[^\s/]+")
    retries: int = Field(ge=0)
    retry_delay_s: float = Field(gt=0)
    lock_timeout_s: float = Field(ge=0)
    stage_timeout_s: dict[str, float]

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
        for stage, seconds in self.stage_timeout_s.items():
            if not seconds > 0:
                raise ValueError(f"schedule.stage_timeout_s.{stage} = {seconds} must be > 0")
        return self


with warnings.catch_warnings():
    # sections are named as in params.yaml; validate and register shadow classmethods of
    # BaseModel (pydantic's deprecated validate, ABCMeta's register) that nothing here calls
    warnings.filterwarnings(
        "ignore", message='Field name "(validate|register)"', category=UserWarning
    )

    class Params(Section):
        demo: DemoParams
        ingest: IngestParams
        validate: ValidateParams  # type: ignore[assignment]
        images: ImageParams
        corpus: CorpusParams
        pretrain: PretrainParams
        embed: EmbedSection
        train: TrainParams
        evaluate: EvaluateParams
        register: RegisterParams  # type: ignore[assignment]
        serve: ServeParams
        scaleout: ScaleoutParams
        schedule: ScheduleParams
        numerics: NumericsParams = NumericsParams()

        @model_validator(mode="after")
        def _consistent(self) -> Params:
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
            if "contrastive" in self.pretrain.tasks:
                batch = self.pretrain.batch_size
                reps = len(self.images.representations)
                per_window = reps * (1 + self.pretrain.contrastive.augment.views)
                if per_window < 2:
                    raise ValueError(
                        "pretrain.tasks has contrastive, which pairs a window's images: "
                        f"images.representations has {reps} and contrastive.augment.views is 0; "
                        "it needs two or more images per window"
                    )
                if batch % per_window or batch < 2 * per_window:
                    raise ValueError(
                        f"pretrain.batch_size ({batch}) must be a multiple of a window's "
                        f"{per_window} images ({reps} images.representations x (1 + "
                        "contrastive.augment.views)) and hold two windows or more "
                        f"(>= {2 * per_window}) for the contrastive task"
                    )
            return self

        def as_flat_dict(self) -> dict[str, Any]:
            """Dotted-key view (``train.lr``), as logged to MLflow and named in dvc.yaml."""
            return flatten(self.model_dump(mode="json"))

        def logged(self, *sections: str) -> dict[str, Any]:
            """The dotted params of the named sections, as a stage logs them to MLflow."""
            return {k: v for k, v in self.as_flat_dict().items() if k.split(".", 1)[0] in sections}


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
