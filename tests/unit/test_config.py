from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from biomoe.config import Params, ParamsError, load_params

REPO_ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _raw() -> dict:
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def test_project_params_load_and_flatten(params: Params) -> None:
    flat = params.as_flat_dict()
    assert flat["train.mlp.lr"] == params.train.mlp.lr
    assert flat["validate.max_nan_fraction"] == params.validate.max_nan_fraction


def test_unknown_key_is_named(tmp_path: Path) -> None:
    data = _raw()
    data["train"]["learning_rate"] = 0.1
    with pytest.raises(ParamsError, match=r"train\.learning_rate"):
        load_params(_write(tmp_path, data))


def test_missing_value_is_named(tmp_path: Path) -> None:
    data = _raw()
    del data["embed"]["batch_size"]
    with pytest.raises(ParamsError, match=r"embed\.batch_size"):
        load_params(_write(tmp_path, data))


def test_image_size_the_model_cannot_take_is_named(tmp_path: Path) -> None:
    data = _raw()
    data["images"]["size"] = 100
    with pytest.raises(ParamsError, match=r"images\.size \(100\) must be a multiple of 32"):
        load_params(_write(tmp_path, data))


def test_one_key_per_fact(params: Params) -> None:
    """The image size and the sampling rate are each one key; sections are their attributes."""
    flat = params.as_flat_dict()
    assert [k for k in flat if k.endswith((".size", ".img_size"))] == ["images.size"]
    assert [k for k in flat if k.endswith(".fs")] == ["ingest.fs"]
    assert set(type(params).model_fields) == set(_raw())
    assert params.validate.min_seconds == _raw()["validate"]["min_seconds"]
    assert params.register.model_name == _raw()["register"]["model_name"]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
