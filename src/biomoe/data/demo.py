"""Deterministic demo dataset in the AI4PAIN 2025 raw layout.

``<out_dir>/{train,validation,test}/{Bvp,Eda,Resp,SpO2}/<subject>.csv``: one column per segment
(``Baseline``, then the LOW/HIGH stimuli in a seeded random order with ``REST_<n>`` between them),
columns of unequal length NaN-padded (empty cells) to the longest, sampled at ``ingest.fs``.
Subject ``k`` (``S001``, ``S002``, ... numbered across train, validation, test) is simulated as one
continuous session from the seed sequence ``[seed, k]`` and cut into its segments, so its files
depend only on the seed, its number and the segment parameters. The same parameters give
byte-identical files in every run and process (fixed ``%.5f`` formatting, column order, LF).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biomoe.data.params import MODALITIES, SPLITS, DemoParams
from biomoe.data.physiology import INTENSITY, Stimulus, SubjectProfile, simulate_session
from biomoe.data.segments import segment_name
from biomoe.io import atomic_dir, sha256_tree

FLOAT_FORMAT = "%.5f"


@dataclass(frozen=True)
class DemoSummary:
    """What was written: subject ids per split, file and segment counts, content hash."""

    out_dir: Path
    subjects: dict[str, tuple[str, ...]]
    n_files: int
    n_segments: int
    sha256: str


@dataclass(frozen=True)
class _Segment:
    name: str
    label: str | None
    start: int
    length: int


def generate_demo_dataset(out_dir: Path, params: DemoParams, fs: int) -> DemoSummary:
    """Write the demo dataset, sampled at ``fs`` Hz, to ``out_dir``, replacing it whole only
    once every file is written."""
    out_dir = Path(out_dir)
    subjects = subject_ids(params)
    n_segments = n_files = 0
    with atomic_dir(out_dir) as tmp:
        number = 0
        for split in SPLITS:
            for modality in MODALITIES:
                (tmp / split / modality).mkdir(parents=True)
            for subject in subjects[split]:
                number += 1
                segments, signals = _simulate_subject(params, fs, number)
                n_segments += len(segments)
                for modality in MODALITIES:
                    path = tmp / split / modality / f"{subject}.csv"
                    path.write_bytes(_csv_bytes(segments, signals[modality]))
                    n_files += 1
    return DemoSummary(
        out_dir=out_dir,
        subjects=subjects,
        n_files=n_files,
        n_segments=n_segments,
        sha256=sha256_tree(out_dir),
    )


def subject_ids(params: DemoParams) -> dict[str, tuple[str, ...]]:
    """``S001``... numbered consecutively across train, validation and test (unique overall)."""
    counts = [getattr(params.subjects, split) for split in SPLITS]
    width = max(3, len(str(sum(counts))))
    ids: dict[str, tuple[str, ...]] = {}
    first = 1
    for split, count in zip(SPLITS, counts, strict=True):
        ids[split] = tuple(f"S{k:0{width}d}" for k in range(first, first + count))
        first += count
    return ids


def _simulate_subject(
    params: DemoParams, fs: int, number: int
) -> tuple[list[_Segment], dict[str, np.ndarray]]:
    schedule_rng, profile_rng, session_rng = (
        np.random.default_rng(seq) for seq in np.random.SeedSequence([params.seed, number]).spawn(3)
    )
    segments = _schedule(params, fs, schedule_rng)
    stimuli = [
        Stimulus(onset=s.start, length=s.length, intensity=INTENSITY[s.label])
        for s in segments
        if s.label in ("Low", "High")
    ]
    n_samples = segments[-1].start + segments[-1].length
    profile = SubjectProfile.draw(profile_rng)
    signals = simulate_session(profile, stimuli, n_samples, fs, session_rng)
    return segments, signals


def _schedule(params: DemoParams, fs: int, rng: np.random.Generator) -> list[_Segment]:
    """Baseline, then the stimuli in random order with a rest between consecutive stimuli."""
    order = rng.permutation(["low"] * params.n_low + ["high"] * params.n_high)
    plan: list[tuple[str, str | None, float]] = [("Baseline", "No", params.baseline_seconds)]
    counts = {"low": 0, "high": 0}
    for i, kind in enumerate(order):
        if i:
            plan.append((segment_name("rest", i), None, params.rest_seconds))
        counts[kind] += 1
        label = "Low" if kind == "low" else "High"
        plan.append((segment_name(kind, counts[kind]), label, params.segment_seconds))
    segments: list[_Segment] = []
    start = 0
    for name, label, seconds in plan:
        jitter = rng.uniform(-params.segment_jitter_seconds, params.segment_jitter_seconds)
        length = max(1, round((seconds + jitter) * fs))
        segments.append(_Segment(name, label, start, length))
        start += length
    return segments


def _csv_bytes(segments: list[_Segment], signal: np.ndarray) -> bytes:
    """One column per segment, NaN-padded to the longest, written as empty cells."""
    rows = max(s.length for s in segments)
    table = np.full((rows, len(segments)), np.nan)
    for j, s in enumerate(segments):
        table[: s.length, j] = signal[s.start : s.start + s.length]
    frame = pd.DataFrame(table, columns=[s.name for s in segments])
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, float_format=FLOAT_FORMAT, na_rep="", lineterminator="\n")
    return buffer.getvalue().encode("ascii")
