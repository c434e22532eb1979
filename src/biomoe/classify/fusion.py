"""Early fusion: one feature vector per sample from the embeddings of modality x representation.

Modalities are concatenated; the representations of one modality are concatenated or added
(``combine``), the fusions the Tiny-BioMoE authors compare. The ``FeatureLayout`` is saved with the
classifier so that serving builds vectors exactly as training did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from biomoe.errors import DataError


@dataclass(frozen=True)
class FeatureLayout:
    modalities: tuple[str, ...]
    representations: tuple[str, ...]
    combine: Literal["concat", "add"] = "concat"

    @property
    def blocks(self) -> list[tuple[str, str]]:
        """The (modality, representation) embeddings a sample needs, in ``assemble`` order."""
        return [(m, r) for m in self.modalities for r in self.representations]

    def assemble(self, blocks: np.ndarray) -> np.ndarray:
        """``blocks`` [n, len(blocks), d] -> [n, modalities * d], times reps when concatenated."""
        n, _, dim = blocks.shape
        per_modality = blocks.reshape(n, len(self.modalities), len(self.representations), dim)
        if self.combine == "add":
            return per_modality.sum(axis=2, dtype=np.float32).reshape(n, -1)
        return per_modality.reshape(n, -1)

    def describe(self) -> str:
        reps = ("+" if self.combine == "add" else " | ").join(self.representations)
        return f"{', '.join(self.modalities)} x ({reps})"


@dataclass(frozen=True)
class FusedSet:
    """``features`` float32 [n, d] (``FeatureLayout.assemble``); ``samples`` has sample_id,
    subject, split, label."""

    features: np.ndarray
    samples: pd.DataFrame


def sample_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per sample of ``table`` (sample_id, subject, split, label), sorted by sample_id:
    the row order every feature matrix of one evaluation shares."""
    return (
        table[["sample_id", "subject", "split", "label"]]
        .drop_duplicates("sample_id")
        .sort_values("sample_id", kind="stable")
        .reset_index(drop=True)
    )


def fuse(embeddings: pd.DataFrame, windows: pd.DataFrame, layout: FeatureLayout) -> FusedSet:
    meta = windows[["window_id", "sample_id", "subject", "split", "label", "modality"]]
    table = embeddings.merge(meta, on="window_id", how="inner", validate="many_to_one")
    table = table[table["modality"].isin(layout.modalities)]
    samples = sample_table(table)
    position = {sid: i for i, sid in enumerate(samples["sample_id"])}
    blocks = {b: i for i, b in enumerate(layout.blocks)}
    dim = len(table["embedding"].iloc[0]) if len(table) else 0
    features = np.full((len(samples), len(blocks), dim), np.nan, dtype=np.float32)
    for sid, modality, rep, vector in zip(
        table["sample_id"],
        table["modality"],
        table["representation"],
        table["embedding"],
        strict=True,
    ):
        block = blocks.get((modality, rep))
        if block is not None:
            features[position[sid], block] = vector
    missing = np.isnan(features).any(axis=2)
    if missing.any():
        row, block = map(int, np.argwhere(missing)[0])
        modality, rep = layout.blocks[block]
        raise DataError(
            f"no {rep} embedding for modality {modality}; every sample needs all "
            f"{len(layout.blocks)} modality x representation blocks",
            segment=samples["sample_id"].iloc[row],
            hint="re-run the images and embed stages",
        )
    return FusedSet(layout.assemble(features), samples)
