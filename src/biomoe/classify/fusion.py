"""Early fusion: one feature vector per sample, the embeddings of every modality x representation.

The block order is the ``FeatureLayout``; it is saved with the classifier so that serving builds
vectors exactly as training did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from biomoe.errors import DataError


@dataclass(frozen=True)
class FeatureLayout:
    modalities: tuple[str, ...]
    representations: tuple[str, ...]

    @property
    def blocks(self) -> list[tuple[str, str]]:
        return [(m, r) for m in self.modalities for r in self.representations]


@dataclass(frozen=True)
class FusedSet:
    """``features`` float32 [n, blocks*192]; ``samples`` has sample_id, subject, split, label."""

    features: np.ndarray
    samples: pd.DataFrame


def fuse(embeddings: pd.DataFrame, windows: pd.DataFrame, layout: FeatureLayout) -> FusedSet:
    meta = windows[["window_id", "sample_id", "subject", "split", "label", "modality"]]
    table = embeddings.merge(meta, on="window_id", how="inner", validate="many_to_one")
    table = table[table["modality"].isin(layout.modalities)]
    samples = (
        table[["sample_id", "subject", "split", "label"]]
        .drop_duplicates("sample_id")
        .sort_values("sample_id", kind="stable")
        .reset_index(drop=True)
    )
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
    return FusedSet(features.reshape(len(samples), -1), samples)
