from __future__ import annotations

from pathlib import Path

import pytest

from biomoe.io import atomic_dir, atomic_path, sha256_tree, write_json


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert list(tmp_path.iterdir()) == [target]


def test_failed_directory_build_keeps_previous_tree(tmp_path: Path) -> None:
    target = tmp_path / "shards"
    with atomic_dir(target) as tmp:
        (tmp / "a.bin").write_bytes(b"old")
    before = sha256_tree(target)
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a.bin").write_bytes(b"new")
        raise RuntimeError("crash")
    assert sha256_tree(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shards"]


def test_json_is_deterministic(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"b": 2, "a": [1.5, 2]})
    write_json(tmp_path / "b.json", {"a": [1.5, 2], "b": 2})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
