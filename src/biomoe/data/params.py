"""The AI4PAIN vocabulary (modalities, pain labels, splits) and the demo and ingest sections."""

from __future__ import annotations

from pydantic import Field

from biomoe.section import Section

MODALITIES: tuple[str, ...] = ("Bvp", "Eda", "Resp", "SpO2")
PAIN_LABELS: tuple[str, ...] = ("No", "Low", "High")
SPLITS: tuple[str, ...] = ("train", "validation", "test")
SIGNAL_TYPES: dict[str, str] = {"Bvp": "ppg", "Eda": "eda", "Resp": "rsp", "SpO2": "spo2"}
"""The physiological signal each AI4PAIN modality records (BVP is a PPG)."""


def signal_type_of(modality: str) -> str:
    """The signal type of ``modality`` (:data:`SIGNAL_TYPES`; another modality: its name in
    lower case, which has the generic features only)."""
    return SIGNAL_TYPES.get(modality, modality.lower())


class SplitSizes(Section):
    train: int = Field(ge=1)
    validation: int = Field(ge=1)
    test: int = Field(ge=0)


class DemoParams(Section):
    """Deterministic demo dataset in the AI4PAIN 2025 layout, sampled at ``ingest.fs``."""

    seed: int
    subjects: SplitSizes
    n_low: int = Field(ge=1, description="LOW stimuli per subject")
    n_high: int = Field(ge=1, description="HIGH stimuli per subject")
    segment_seconds: float = Field(gt=0)
    segment_jitter_seconds: float = Field(ge=0)
    baseline_seconds: float = Field(gt=0)
    rest_seconds: float = Field(gt=0)


class IngestParams(Section):
    """``fs``: the sampling rate of the recordings (AI4PAIN: 100 Hz), the pipeline's one rate:
    the demo data is generated at it, the windows table is checked against it and the
    pretraining corpus is resampled to it."""

    fs: int = Field(gt=0)
    modalities: tuple[str, ...]
    include_rest: bool
