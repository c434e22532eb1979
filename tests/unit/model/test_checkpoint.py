"""Checkpoint I/O: round trip, atomic writes, and a clear CheckpointError for each bad file."""

from __future__ import annotations

import hashlib
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from biomoe.errors import CheckpointError
from biomoe.io import sha256_file as file_sha256
from biomoe.model.checkpoint import load_checkpoint, save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE


@pytest.fixture(scope="module")
def small_model(perturb) -> TinyBioMoE:
    torch.manual_seed(0)
    return perturb(TinyBioMoE(img_size=32)).eval()


@pytest.fixture(scope="module")
def saved(small_model: TinyBioMoE, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(small_model, tmp_path_factory.mktemp("ckpt") / "model.pth")


def test_round_trip_restores_weights_and_outputs(small_model: TinyBioMoE, saved: Path) -> None:
    payload = torch.load(saved, weights_only=True)
    assert list(payload) == ["model_state_dict"]
    assert list(payload["model_state_dict"]) == list(small_model.state_dict())
    loaded = load_checkpoint(saved, img_size=32)
    for (k, a), b in zip(
        small_model.state_dict().items(), loaded.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = small_model(x)
        assert expected.isfinite().all()
        assert torch.equal(expected, loaded(x))


def test_save_is_byte_deterministic_and_leaves_no_temp_files(
    small_model: TinyBioMoE, saved: Path, tmp_path: Path
) -> None:
    again = save_checkpoint(small_model, tmp_path / "sub" / "again.pth")
    assert file_sha256(again) == file_sha256(saved)
    assert sorted(p.name for p in again.parent.iterdir()) == ["again.pth"]


def test_failed_save_keeps_the_previous_file(
    small_model: TinyBioMoE, saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.pth"
    target.write_bytes(saved.read_bytes())

    def broken_save(obj, fh) -> None:
        fh.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(small_model, target)
    assert target.read_bytes() == saved.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.pth"]


def test_file_sha256_matches_hashlib(saved: Path) -> None:
    assert file_sha256(saved, chunk=4096) == hashlib.sha256(saved.read_bytes()).hexdigest()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pth", img_size=32)


def test_corrupt_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.pth"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CheckpointError, match=r"noise\.pth: not a torch zip archive"):
        load_checkpoint(path, img_size=32)


def test_truncated_file(saved: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.pth"
    path.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path, img_size=32)


def test_damaged_member_inside_a_valid_zip(saved: Path, tmp_path: Path) -> None:
    path = tmp_path / "damaged.pth"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, b"garbage" if info.filename.endswith("data.pkl") else data)
    with pytest.raises(CheckpointError, match="cannot be read as a torch checkpoint"):
        load_checkpoint(path, img_size=32)


def test_bare_state_dict_is_refused_with_what_was_found(
    small_model: TinyBioMoE, tmp_path: Path
) -> None:
    path = tmp_path / "bare.pth"
    torch.save(small_model.state_dict(), path)
    with pytest.raises(CheckpointError, match=r"'model_state_dict'.*found a bare state dict"):
        load_checkpoint(path, img_size=32)


def test_other_top_level_formats(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {}, "epoch": 3}, path)
    with pytest.raises(CheckpointError, match=r"found a dict with keys \[state_dict, epoch\]"):
        load_checkpoint(path, img_size=32)
    torch.save([torch.zeros(1)], path)
    with pytest.raises(CheckpointError, match="found an object of type list"):
        load_checkpoint(path, img_size=32)
    torch.save({"model_state_dict": {"a": 1}}, path)
    with pytest.raises(CheckpointError, match="must map names to tensors"):
        load_checkpoint(path, img_size=32)


def test_wrong_architecture_lists_missing_and_unexpected_keys(
    small_model: TinyBioMoE, tmp_path: Path
) -> None:
    state = OrderedDict(small_model.state_dict())
    state.pop("fcn.1.weight")
    state.pop("enc1.norm4.bias")
    state["head.weight"] = torch.zeros(5, 192)
    path = tmp_path / "arch.pth"
    torch.save({"model_state_dict": state}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, img_size=32)
    message = str(err.value)
    assert "2 missing key(s): enc1.norm4.bias, fcn.1.weight" in message
    assert "1 unexpected key(s): head.weight" in message


def test_checkpoint_for_another_img_size_names_the_shapes(saved: Path) -> None:
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved, img_size=64)
    message = str(err.value)
    assert "made for img_size=32" in message
    expected = "enc1.block1.0.attn.complex_weight: expected [16, 9, 64, 2], got [8, 5, 64, 2]"
    assert expected in message
    assert "shape mismatch(es)" in message


def test_published_checkpoint_into_a_small_model_fails_clearly(reference_checkpoint) -> None:
    with pytest.raises(CheckpointError, match=r"img_size=224.*enc1\.block1\.0\.attn\.complex"):
        load_checkpoint(reference_checkpoint, img_size=32)
