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
    assert flat["validate.max_nan_fraction"] == params.validate_.max_nan_fraction


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


def test_image_size_must_match_model(tmp_path: Path) -> None:
    data = _raw()
    data["model"]["img_size"] = 64
    with pytest.raises(ParamsError, match="img_size"):
        load_params(_write(tmp_path, data))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
