from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biomoe.classify.fusion import FeatureLayout, fuse
from biomoe.errors import DataError

LAYOUT = FeatureLayout(("Bvp", "Eda"), ("waveform", "spectrogram"))


def _tables(drop: tuple[str, str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    windows, embeddings = [], []
    for subject, split in (("S1", "train"), ("S2", "validation")):
        for segment, label in (("Baseline", "No"), ("HIGH_1", "High")):
            for modality in LAYOUT.modalities:
                wid = f"{subject}/{segment}/{modality}"
                windows.append(
                    dict(
                        window_id=wid,
                        sample_id=f"{subject}/{segment}",
                        subject=subject,
                        split=split,
                        label=label,
                        modality=modality,
                    )
                )
                for rep in LAYOUT.representations:
                    if drop == (subject, modality, rep):
                        continue
                    code = hash((wid, rep)) % 1000
                    embeddings.append(
                        dict(window_id=wid, representation=rep, embedding=np.full(192, code, "f4"))
                    )
    return pd.DataFrame(embeddings), pd.DataFrame(windows)


def test_blocks_follow_the_layout() -> None:
    embeddings, windows = _tables()
    fused = fuse(embeddings, windows, LAYOUT)
    assert fused.features.shape == (4, 4 * 192)
    assert list(fused.samples["sample_id"]) == sorted(fused.samples["sample_id"])
    row = fused.samples.index[fused.samples["sample_id"] == "S2/HIGH_1"][0]
    for block, (modality, rep) in enumerate(LAYOUT.blocks):
        expected = hash((f"S2/HIGH_1/{modality}", rep)) % 1000
        assert (fused.features[row, block * 192 : (block + 1) * 192] == expected).all()


def test_missing_block_is_named() -> None:
    embeddings, windows = _tables(drop=("S1", "Eda", "spectrogram"))
    with pytest.raises(DataError, match="spectrogram embedding for modality Eda") as error:
        fuse(embeddings, windows, LAYOUT)
    assert "'S1/" in str(error.value)
