from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from biomoe.config import Params
from biomoe.imaging.gallery import save_gallery, select_gallery
from biomoe.imaging.shards import write_image_shards


def test_selection_shows_each_modality_and_label_first(windows: pd.DataFrame) -> None:
    pairs = list(zip(*select_gallery(windows, 12)[["modality", "label"]].T.values, strict=True))
    assert len(set(pairs)) == 12
    assert pairs[:4] == [("Bvp", "No"), ("Bvp", "Low"), ("Bvp", "High"), ("Eda", "No")]
    more = select_gallery(windows, 15)
    assert more.head(12).equals(select_gallery(windows, 12))
    assert len(more) == 15 and more["window_id"].is_unique


def test_selection_tolerates_hidden_labels(windows: pd.DataFrame) -> None:
    hidden = windows.assign(label=None)
    assert len(select_gallery(hidden, 8)) == 8


def test_gallery_pngs_are_written_per_representation(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    gallery = tmp_path / "plots" / "images"
    write_image_shards(windows, tmp_path / "images", tiny_params.images, gallery_dir=gallery)
    for representation in tiny_params.images.representations:
        png = gallery / f"{representation}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = matplotlib.image.imread(png)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100


def test_image_count_must_match_the_windows(tmp_path: Path, windows: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="2 images for 24 windows"):
        save_gallery(windows, {"waveform": np.zeros((2, 3, 8, 8), np.uint8)}, tmp_path, 4)
