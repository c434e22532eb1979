"""``biomoe.lineage`` against real DVC projects: the flow's change detection is ``dvc repro``'s.

Two twin projects hold one two-stage pipeline; one is reproduced by ``dvc repro``, the other by
``lineage.reproduce`` with the stage's work done in Python. Their ``dvc.lock`` files must be
byte-identical, and each door must see the other's work as done.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from biomoe.lineage import reproduce, stale

DVC = str(Path(sys.executable).parent / "dvc")
DVC_YAML = """\
stages:
  double:
    cmd: python double.py
    deps: [double.py, numbers.txt]
    params: [factor]
    outs: [doubled.txt]
  total:
    cmd: python total.py
    deps: [total.py, doubled.txt]
    outs:
      - total.txt:
          cache: false
"""
SCRIPTS = {
    "double.py": "import yaml\nf = yaml.safe_load(open('params.yaml'))['factor']\n"
    "open('doubled.txt', 'w').write(''.join(f'{int(x) * f}\\n' for x in open('numbers.txt')))\n",
    "total.py": "open('total.txt', 'w').write(str(sum(int(x) for x in open('doubled.txt'))))\n",
}


def _project(path: Path, numbers: str = "1\n2\n3\n", factor: int = 2) -> Path:
    path.mkdir()
    (path / "dvc.yaml").write_text(DVC_YAML)
    (path / "numbers.txt").write_text(numbers)
    (path / "params.yaml").write_text(f"factor: {factor}\n")
    for name, text in SCRIPTS.items():
        (path / name).write_text(text)
    for init in (["git", "init", "-q"], [DVC, "init", "-q"]):
        subprocess.run(init, cwd=path, check=True, capture_output=True)
    return path


def _dvc_repro(root: Path) -> str:
    result = subprocess.run([DVC, "repro"], cwd=root, check=True, capture_output=True, text=True)
    return result.stdout


def _in_python(root: Path) -> list[str]:
    """Both stages through ``lineage.reproduce``, their cmd run in-process; the actions."""
    actions = []
    for name in ("double", "total"):

        def run(name: str = name) -> None:
            subprocess.run([sys.executable, f"{name}.py"], cwd=root, check=True)

        actions.append(reproduce(root, name, run).action)
    return actions


@pytest.fixture
def twins(tmp_path: Path) -> tuple[Path, Path]:
    return _project(tmp_path / "by-dvc"), _project(tmp_path / "by-lineage")


def test_lineage_writes_the_lock_dvc_repro_writes(twins: tuple[Path, Path]) -> None:
    by_dvc, by_lineage = twins
    _dvc_repro(by_dvc)
    assert stale(by_lineage, "double"), "no lock entry yet: dvc repro would run it"
    assert _in_python(by_lineage) == ["ran", "ran"]
    assert (by_lineage / "dvc.lock").read_bytes() == (by_dvc / "dvc.lock").read_bytes()
    assert "Running stage" not in _dvc_repro(by_lineage), "dvc sees the flow's work as done"
    assert _in_python(by_dvc) == ["skipped", "skipped"], "the flow sees dvc's work as done"


def test_a_changed_param_reruns_the_stage_and_same_bytes_stop_the_cascade(
    twins: tuple[Path, Path],
) -> None:
    _, root = twins
    _in_python(root)
    (root / "numbers.txt").write_text("1\n2\n3\n")  # rewritten, same bytes
    assert _in_python(root) == ["skipped", "skipped"]
    (root / "params.yaml").write_text("factor: 3\n")
    assert any("params" in reason for reason in stale(root, "double"))
    assert _in_python(root) == ["ran", "ran"]
    (root / "numbers.txt").write_text("01\n2\n3\n")  # another dep, the same doubled.txt
    assert _in_python(root) == ["ran", "skipped"], "total's dep was rewritten with the same bytes"


def test_a_stage_seen_before_is_checked_out_from_the_run_cache(twins: tuple[Path, Path]) -> None:
    _, root = twins
    _in_python(root)
    (root / "params.yaml").write_text("factor: 5\n")
    _in_python(root)
    (root / "params.yaml").write_text("factor: 2\n")
    assert _in_python(root)[0] == "restored", "dvc repro would check it out, not run it"
    assert (root / "doubled.txt").read_text() == "2\n4\n6\n"
    assert "Running stage" not in _dvc_repro(root)


def _lock(images_out: str, params_value: int = 128) -> dict[str, object]:
    return {
        "stages": {
            "ingest": {
                "cmd": "biomoe ingest",
                "deps": [{"path": "data/raw", "md5": "a.dir"}],
                "outs": [{"path": "data/interim/windows.parquet", "md5": "w"}],
            },
            "images": {
                "cmd": "biomoe images",
                "deps": [{"path": "data/interim/windows.parquet", "md5": "w"}],
                "params": {"params.yaml": {"images.size": params_value}},
                "outs": [{"path": "data/images", "md5": images_out}],
            },
        }
    }


def test_divergences_name_the_first_stage_that_computed_differently() -> None:
    from biomoe.lineage import divergences

    assert divergences(_lock("i1"), _lock("i1"), ("ingest", "images")) == []
    [images] = divergences(_lock("i1"), _lock("i2"), ("ingest", "images"))
    assert (images.stage, images.outputs, images.machine_dependent) == (
        "images",
        ("data/images",),
        True,
    )
    [changed] = divergences(_lock("i1"), _lock("i2", params_value=64), ("ingest", "images"))
    assert changed.inputs == ("params.yaml:images.size",) and not changed.machine_dependent


def test_stale_inputs_name_code_and_params_changed_since_the_lock_not_missing_data(
    twins: tuple[Path, Path],
) -> None:
    from biomoe.lineage import stale_inputs

    _, root = twins
    _in_python(root)
    (root / "doubled.txt").unlink()  # built data missing, as in a fresh clone: not a finding
    assert stale_inputs(root) == []
    (root / "params.yaml").write_text("factor: 4\n")
    (root / "total.py").write_text(SCRIPTS["total.py"] + "\n")
    found = stale_inputs(root)
    assert len(found) == 2
    assert found[0].startswith("double: params.yaml") and found[1].startswith("total: total.py")
