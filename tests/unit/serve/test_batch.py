"""``biomoe predict``'s pieces that need no model: which folder, which rows, which version."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from biomoe.config import Params
from biomoe.data.ai4pain import read_ai4pain, read_ai4pain_split
from biomoe.errors import DataError
from biomoe.serve.batch import registered_version, sample_table, split_folder

MODALITIES = ("Bvp", "Eda", "Resp", "SpO2")


def test_a_data_root_or_a_split_folder(demo_raw: Path, tmp_path: Path) -> None:
    assert split_folder(demo_raw, "test", MODALITIES) == (demo_raw / "test", "test")
    assert split_folder(demo_raw, "Validation", MODALITIES) == (
        demo_raw / "validation",
        "validation",
    )
    assert split_folder(demo_raw / "validation", "test", MODALITIES) == (
        demo_raw / "validation",
        "validation",
    )
    shutil.copytree(demo_raw / "test", tmp_path / "incoming")
    assert split_folder(tmp_path / "incoming", "test", MODALITIES) == (
        tmp_path / "incoming",
        "test",
    )


def test_a_folder_without_the_layout_is_named(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    with pytest.raises(DataError, match=r"neither a 'test' split folder nor modality folders"):
        split_folder(tmp_path, "test", MODALITIES)
    with pytest.raises(DataError, match="data folder not found"):
        split_folder(tmp_path / "missing", "test", MODALITIES)


def test_one_split_reads_as_the_whole_layout_does(demo_raw: Path, tiny_params: Params) -> None:
    everything = read_ai4pain(demo_raw, tiny_params.ingest)
    for split in ("train", "test"):
        one = read_ai4pain_split(demo_raw / split, split, tiny_params.ingest)
        same = everything[everything["split"] == split].reset_index(drop=True)
        assert one.drop(columns="signal").equals(same.drop(columns="signal"))
        assert all(np.array_equal(a, b) for a, b in zip(one["signal"], same["signal"], strict=True))


def test_one_row_per_sample_with_its_files(demo_raw: Path, tiny_params: Params) -> None:
    windows = read_ai4pain_split(demo_raw / "test", "test", tiny_params.ingest)
    samples = sample_table(windows, MODALITIES)
    assert list(samples["sample_id"]) == list(dict.fromkeys(windows["sample_id"]))
    first = windows[windows["sample_id"] == samples.at[0, "sample_id"]].set_index("modality")
    for modality in MODALITIES:
        assert np.array_equal(samples.at[0, modality], first.at[modality, "signal"])
        assert samples.at[0, f"{modality}_file"] == first.at[modality, "source_file"]


def test_the_version_behind_a_model_uri() -> None:
    client = SimpleNamespace(
        get_model_version_by_alias=lambda name, alias: SimpleNamespace(version=7)
    )
    assert registered_version(client, "models:/pain-classifier@champion") == "7"
    assert registered_version(client, "models:/pain-classifier/3") == "3"
    assert registered_version(client, "runs:/abc/pain-classifier") == ""
    assert registered_version(client, "models:/m-0123456789abcdef") == ""
