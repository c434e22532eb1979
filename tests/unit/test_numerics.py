"""The numerics door: which environment counts as pinned, and stages refusing to run without."""

from __future__ import annotations

from pathlib import Path

import pytest

from biomoe.config import Params
from biomoe.numerics import (
    STATE,
    NumericsError,
    NumericsParams,
    configured,
    environment,
    is_pinned,
    require,
)
from biomoe.paths import ProjectPaths
from biomoe.stages import stage

REPRODUCIBLE = NumericsParams(mode="reproducible", threads=2)


def test_the_pinned_environment_overrides_what_the_machine_set() -> None:
    env = environment(REPRODUCIBLE, {"OPENBLAS_CORETYPE": "SkylakeX", "HOME": "/home/x"})
    assert env["OPENBLAS_CORETYPE"] == "Haswell"
    assert env["OMP_NUM_THREADS"] == "2"
    assert env["HOME"] == "/home/x"
    assert is_pinned(REPRODUCIBLE, env)


def test_a_changed_pin_or_thread_count_is_not_pinned() -> None:
    env = environment(REPRODUCIBLE, {})
    assert not is_pinned(REPRODUCIBLE, env | {"ATEN_CPU_CAPABILITY": "avx512"})
    assert not is_pinned(REPRODUCIBLE, {k: v for k, v in env.items() if k != STATE})
    assert not is_pinned(NumericsParams(mode="reproducible", threads=4), env)


def test_native_mode_changes_nothing() -> None:
    native = NumericsParams(mode="native")
    assert environment(native, {"A": "1"}) == {"A": "1"}
    assert is_pinned(native, {})


def test_configured_reads_only_the_numerics_section(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("numerics: {mode: native, threads: 3}\nimages: [not, valid, here]\n")
    assert configured(path) == NumericsParams(mode="native", threads=3)
    assert configured(tmp_path / "missing.yaml") == NumericsParams()


def test_a_stage_refuses_to_run_unpinned(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, params: Params
) -> None:
    monkeypatch.delenv(STATE, raising=False)
    with pytest.raises(NumericsError, match=r"not started under numerics\.mode reproducible"):
        require(params.numerics)
    with pytest.raises(NumericsError):
        stage("ingest")(params, ProjectPaths.at(tmp_path))
    assert not any(tmp_path.iterdir())


def test_a_stage_passes_positional_and_keyword_arguments_through(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, params: Params
) -> None:
    import biomoe.stages.ingest

    calls = []

    def run(*args: object, **kwargs: object) -> Path:
        calls.append((args, kwargs))
        return tmp_path

    monkeypatch.setattr(biomoe.stages.ingest, "run", run)
    for key, value in environment(params.numerics, {}).items():
        monkeypatch.setenv(key, value)
    paths = ProjectPaths.at(tmp_path)
    assert stage("ingest")(params, paths, "sqlite:///x.db", runner="r") == tmp_path
    assert calls == [((params, paths, "sqlite:///x.db"), {"runner": "r"})]
