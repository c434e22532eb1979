"""Windows tables in the shape the ingest stage writes, built in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biomoe.data.params import MODALITIES, PAIN_LABELS


def windows_table(n_subjects: int = 2, seed: int = 0) -> pd.DataFrame:
    """One window per (subject, modality, label): varying length, some interior NaNs."""
    rng = np.random.default_rng(seed)
    rows = []
    for subject in range(n_subjects):
        for modality in MODALITIES:
            for level, label in enumerate(PAIN_LABELS):
                n = int(rng.integers(300, 700))
                t = np.arange(n) / 100.0
                signal = np.sin(2 * np.pi * (0.3 + level + subject) * t) + 0.05 * rng.normal(size=n)
                signal = signal.astype(np.float32)
                signal[n // 3 : n // 3 + 5] = np.nan
                segment = f"{label.upper()}_{level}"
                rows.append(
                    {
                        "window_id": f"train/S{subject:02d}/{segment}/{modality}",
                        "sample_id": f"train/S{subject:02d}/{segment}",
                        "subject": f"S{subject:02d}",
                        "split": "train",
                        "segment": segment,
                        "label": label,
                        "modality": modality,
                        "fs": np.int64(100),
                        "n_samples": np.int64(n),
                        "signal": signal,
                        "source_file": f"data/raw/train/{modality}/S{subject:02d}.csv",
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture
def windows() -> pd.DataFrame:
    return windows_table()
