from __future__ import annotations

from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest

from biomoe.config import Params
from biomoe.data.params import MODALITIES
from biomoe.errors import DataError
from biomoe.imaging.gallery import CAPTIONS
from biomoe.imaging.grid import pick_sample, save_representation_grid
from biomoe.imaging.render import REPRESENTATIONS


def test_picks_one_sample_with_every_modality_in_order(windows: pd.DataFrame) -> None:
    chosen = pick_sample(windows.drop(index=[0]))
    assert chosen["sample_id"].nunique() == 1
    assert list(chosen["modality"]) == list(MODALITIES)
    assert set(chosen["label"]) == {"High"}


def test_grid_png_has_a_cell_per_modality_and_representation(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    out = save_representation_grid(windows, tiny_params.images, tmp_path / "docs" / "grid.png")
    pixels = matplotlib.image.imread(out)
    assert pixels.shape[1] > pixels.shape[0] > 300, "wider (8 columns) than tall (4 rows)"
    two = save_representation_grid(
        windows, tiny_params.images, tmp_path / "two.png", ["waveform", "mtf"]
    )
    assert matplotlib.image.imread(two).shape[1] < pixels.shape[1] / 2
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == ["grid.png"]


def test_empty_table_is_an_error(
    tmp_path: Path, windows: pd.DataFrame, tiny_params: Params
) -> None:
    with pytest.raises(DataError, match="no windows"):
        save_representation_grid(windows.head(0), tiny_params.images, tmp_path / "x.png")


def test_command_line(tmp_path: Path, windows: pd.DataFrame) -> None:
    from biomoe.data.windows import write_windows

    write_windows(windows, tmp_path / "windows.parquet")
    params = Path(__file__).resolve().parents[3] / "params.yaml"
    from typer.testing import CliRunner

    from biomoe.cli import app

    args = ["representations", str(tmp_path / "windows.parquet"), str(tmp_path / "g.png")]
    result = CliRunner().invoke(app, [*args, "--params", str(params)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.png").stat().st_size > 10_000


def test_every_representation_has_a_caption() -> None:
    assert set(CAPTIONS) == set(REPRESENTATIONS)
