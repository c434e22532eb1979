"""Bad corpus sources: each gets a DataError naming the file and the rule, and a corpus built
before stays exactly as it was (nothing half-written beside it either)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from tests.unit.corpus.conftest import sine, with_corpus, write_ts

from biomoe.config import Params, ParamsError, load_params
from biomoe.corpus.build import build_corpus
from biomoe.data.readers import ReadSpec, read_recordings
from biomoe.errors import DataError
from biomoe.io import sha256_tree

Breaker = Callable[[Path], dict[str, object]]


def build(params: Params, out: Path, root: Path | None = None) -> None:
    build_corpus(params.corpus, params.images, params.ingest.fs, out, root=root, progress=False)


def _edf(root: Path) -> dict[str, object]:
    header = b"0       " + b" " * 176 + b"768     " + b" " * 44 + b"1       1       2   "
    path = root / "broken.edf"
    path.write_bytes(header + b"x" * 600)
    return {"path": "broken.edf", "format": "edf", "fs": None}


def _wfdb(root: Path) -> dict[str, object]:
    (root / "rec.hea").write_text("rec 1 100 2000\nrec.dat 16 200 16 0 0 0 0 ECG\n")
    (root / "rec.dat").write_bytes(np.zeros(700, dtype="<i2").tobytes())
    return {"path": "rec.hea", "format": "wfdb", "fs": None}


def _ts(root: Path) -> dict[str, object]:
    path = write_ts(root / "cases.ts", [([sine(50.0, 12.0, 1.0)], "a")], ["a"])
    path.write_text(path.read_text() + "1.0,2.0,oops:a\n")
    return {"path": "cases.ts", "format": "ts", "fs": 50.0}


def _missing(root: Path) -> dict[str, object]:
    return {"path": "not/there", "format": "csv", "fs": 10.0, "layout": "wide"}


def _wrong_suffix(root: Path) -> dict[str, object]:
    (root / "data.csv").write_text("a\n1\n")
    return {"path": "data.csv", "format": "edf", "fs": None}


def _too_short(root: Path) -> dict[str, object]:
    write_ts(root / "short.ts", [([sine(50.0, 2.0, 1.0)], "a")], ["a"])
    return {"path": "short.ts", "format": "ts", "fs": 50.0}


CASES: dict[str, tuple[Breaker, str, str]] = {
    "corrupt EDF header": (_edf, "broken.edf", "is not a date"),
    "truncated .dat": (_wfdb, "rec.dat", "truncated: holds 700 of the 2000 samples"),
    "malformed .ts line": (_ts, "cases.ts", "not a number: 'oops'"),
    "missing path": (_missing, "not/there", "source path not found"),
    "suffix of another format": (_wrong_suffix, "data.csv", "does not match format 'edf'"),
    "recordings shorter than a window": (_too_short, "short.ts", "yields no window"),
}


@pytest.fixture(scope="module")
def small(corpus_params: Params) -> Params:
    return with_corpus(
        corpus_params,
        simulated={"signal_types": ["rsp"], "windows_per_signal": 1},
        packaged={"datasets": []},
    )


@pytest.mark.parametrize("case", list(CASES))
def test_bad_source_fails_clearly_and_keeps_the_last_corpus(
    case: str, small: Params, tmp_path: Path
) -> None:
    out = tmp_path / "data" / "corpus"
    build(small, out)
    before = sha256_tree(out)
    breaker, file_name, rule = CASES[case]
    source = {"name": "bad", "signal_type": "ecg", "max_windows": 4} | breaker(tmp_path)
    params = with_corpus(small, user=[source])
    with pytest.raises(DataError, match=rule) as caught:
        build(params, out, root=tmp_path)
    assert caught.value.file is not None and caught.value.file.endswith(file_name)
    assert sha256_tree(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["corpus"]


def test_unknown_format_in_params_names_the_key(params: Params, tmp_path: Path) -> None:
    raw = params.model_dump(by_alias=True, mode="json")
    raw["corpus"]["user"] = [
        {
            "name": "x",
            "path": "x.mat",
            "format": "mat",
            "signal_type": "ecg",
            "fs": 1.0,
            "max_windows": 1,
        }
    ]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=r"corpus\.user\.0\.format"):
        load_params(path)


def test_unknown_format_at_the_reader(tmp_path: Path) -> None:
    (tmp_path / "x.mat").write_bytes(b"\0")
    with pytest.raises(DataError, match="unknown format 'mat'") as caught:
        read_recordings(tmp_path / "x.mat", ReadSpec("mat"))
    assert caught.value.file.endswith("x.mat")


def test_user_source_may_not_reuse_a_dataset_name(small: Params, tmp_path: Path) -> None:
    source = {"name": "simulated", "path": "x", "format": "ts", "signal_type": "ecg"}
    params = with_corpus(small, user=[source | {"fs": 1.0, "max_windows": 1}])
    with pytest.raises(DataError, match="already a dataset"):
        build(params, tmp_path / "c", root=tmp_path)


@pytest.mark.parametrize(
    "case", ["truncated .dat", "missing path", "recordings shorter than a window"]
)
def test_bad_source_is_skipped_and_counted_when_params_say_so(
    case: str, small: Params, tmp_path: Path
) -> None:
    """``on_bad_source: skip``: the corpus is built without the source, and the summary, the
    run's metrics and the log say which source was left out and why."""
    breaker, file_name, rule = CASES[case]
    source = {"name": "bad", "signal_type": "ecg", "max_windows": 4} | breaker(tmp_path)
    params = with_corpus(small, user=[source], on_bad_source="skip")
    out = tmp_path / "corpus"
    summary = build_corpus(
        params.corpus, params.images, params.ingest.fs, out, root=tmp_path, progress=False
    )
    assert summary.windows == 1 and "user:bad" not in summary.by_source
    assert rule in summary.skipped["bad"] and file_name in summary.skipped["bad"]
    assert summary.metrics()["corpus_sources_skipped"] == 1.0
    stored = json.loads((out / "summary.json").read_text())
    assert stored["skipped"] == summary.skipped
