"""UCR/UEA .ts reader: the package-bundled BasicMotions against sktime's own loader, and files
written by hand per the format (unequal lengths, missing values, malformed lines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.unit.corpus.conftest import write_ts

from biomoe.corpus.packaged import PACKAGED, locate
from biomoe.data.readers import ReadSpec, read_recordings
from biomoe.errors import DataError

SPEC = ReadSpec("ts", fs=10.0)


def test_bundled_basicmotions_matches_sktime() -> None:
    sktime_datasets = pytest.importorskip("sktime.datasets")
    files = locate(PACKAGED["sktime_basicmotions"])
    assert isinstance(files, list), files
    X, y = sktime_datasets.load_from_tsfile(str(files[0]), return_data_type="numpy3D")
    recordings = read_recordings(files[0], SPEC)
    assert len(recordings) == X.shape[0] * X.shape[1]
    ours = np.stack([r.signal for r in recordings]).reshape(X.shape)
    np.testing.assert_allclose(ours, X, rtol=1e-6)
    labels = [r.label for r in recordings[:: X.shape[1]]]
    assert [label.lower() for label in labels] == [str(v).lower() for v in y]
    assert {r.channel for r in recordings} == {f"dim_{i}" for i in range(6)}
    assert all(r.fs == 10.0 for r in recordings)


def test_unequal_lengths_and_missing_values(tmp_path: Path) -> None:
    a = [np.array([1.0, np.nan, 3.0]), np.array([4.0, 5.0, 6.0])]
    b = [np.array([7.0, 8.0]), np.array([9.0, 10.0])]
    path = write_ts(tmp_path / "x.ts", [(a, "up"), (b, "down")], ["up", "down"])
    recordings = read_recordings(path, SPEC)
    assert [(r.record, r.channel, r.label) for r in recordings] == [
        ("case00000", "dim_0", "up"),
        ("case00000", "dim_1", "up"),
        ("case00001", "dim_0", "down"),
        ("case00001", "dim_1", "down"),
    ]
    np.testing.assert_array_equal(recordings[0].signal, np.float32([1, np.nan, 3]))
    assert recordings[2].signal.dtype == np.float32 and recordings[2].signal.size == 2


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("1.0,abc,3.0:up", "not a number: 'abc'"),
        ("1.0,2.0:sideways", "class label 'sideways' is not among"),
        ("1.0,2.0:3.0:up", "2 dimensions where @dimensions says 1"),
    ],
)
def test_malformed_line_names_file_line_and_rule(tmp_path: Path, line: str, rule: str) -> None:
    path = write_ts(tmp_path / "bad.ts", [([np.array([1.0, 2.0])], "up")], ["up", "down"])
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(DataError, match=rule) as caught:
        read_recordings(path, SPEC)
    assert caught.value.file == str(path) and caught.value.segment.startswith("line 11")


def test_timestamps_and_missing_data_section_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "stamped.ts"
    path.write_text("@timeStamps true\n@classLabel false\n@data\n(0,1.0),(1,2.0)\n")
    with pytest.raises(DataError, match="time-stamped"):
        read_recordings(path, SPEC)
    path.write_text("@problemName x\n1,2,3\n")
    with pytest.raises(DataError, match="before @data"):
        read_recordings(path, SPEC)


def test_rate_must_come_from_params(tmp_path: Path) -> None:
    path = write_ts(tmp_path / "x.ts", [([np.array([1.0, 2.0])], "up")], ["up"])
    with pytest.raises(DataError, match="do not store a sampling rate"):
        read_recordings(path, ReadSpec("ts"))
