"""UCR/UEA .ts reader (an adapter over sktime's loader): the package-bundled BasicMotions against
sktime's loader, files sktime's writers wrote, and files written by hand per the format (unequal
lengths, missing values, malformed, truncated and corrupt files)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

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
    with pytest.raises(DataError, match="no @data section"):
        read_recordings(path, SPEC)


def test_rate_must_come_from_params(tmp_path: Path) -> None:
    path = write_ts(tmp_path / "x.ts", [([np.array([1.0, 2.0])], "up")], ["up"])
    with pytest.raises(DataError, match="do not store a sampling rate"):
        read_recordings(path, ReadSpec("ts"))


def _sktime_writers() -> ModuleType:
    return pytest.importorskip("sktime.datasets._readers_writers.ts")


def test_multivariate_file_written_by_sktime(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3, 2, 5))
    data[1, 0, 2] = np.nan
    _sktime_writers().write_ndarray_to_tsfile(
        data,
        str(tmp_path),
        problem_name="Written",
        class_value_list=np.array(["Walk", "Run", "Walk"]),
        equal_length=True,
        series_length=5,
        missing_values="?",
    )
    recordings = read_recordings(tmp_path / "Written" / "Written.ts", SPEC)
    assert [(r.record, r.channel) for r in recordings[:3]] == [
        ("case00000", "dim_0"),
        ("case00000", "dim_1"),
        ("case00001", "dim_0"),
    ]
    assert [r.label for r in recordings[::2]] == ["Walk", "Run", "Walk"]
    ours = np.stack([r.signal for r in recordings]).reshape(data.shape)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, data.astype(np.float32))
    assert (
        np.isnan(recordings[2].signal[2]) and np.isfinite(recordings[2].signal[[0, 1, 3, 4]]).all()
    )


def test_unequal_length_file_written_by_sktime(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    series = [[[1.0, 2.0, 3.0], [4.0]], [[5.0, np.nan], [6.0, 7.0, 8.0, 9.0]]]
    frame = pd.DataFrame(
        [[pd.Series(s) for s in case] for case in series], columns=["dim_0", "dim_1"]
    )
    _sktime_writers().write_dataframe_to_tsfile(
        frame, str(tmp_path), problem_name="Ragged", class_value_list=["a", "b"]
    )
    path = tmp_path / "Ragged" / "Ragged.ts"
    path.write_text(path.read_text() + ":10.0:a\n")
    recordings = read_recordings(path, SPEC)
    assert [r.signal.size for r in recordings] == [3, 1, 2, 4, 0, 1]
    np.testing.assert_array_equal(recordings[2].signal, np.float32([5.0, np.nan]))
    np.testing.assert_array_equal(recordings[3].signal, np.float32([6, 7, 8, 9]))
    assert [r.label for r in recordings] == ["a", "a", "b", "b", "a", "a"]


def test_regression_target_and_unlabelled_files_have_no_label(tmp_path: Path) -> None:
    head = "@problemName R\n@timeStamps false\n@univariate true\n"
    path = tmp_path / "target.ts"
    path.write_text(head + "@targetLabel true\n@data\n1,2,3:0.5\n4,5:1.5\n")
    recordings = read_recordings(path, SPEC)
    assert [r.label for r in recordings] == [None, None]
    np.testing.assert_array_equal(recordings[1].signal, np.float32([4, 5]))
    path.write_text(head + "@classLabel false\n@data\n1,?,3\n")
    (recording,) = read_recordings(path, SPEC)
    assert recording.label is None
    np.testing.assert_array_equal(recording.signal, np.float32([1, np.nan, 3]))


def test_labels_keep_the_header_spelling(tmp_path: Path) -> None:
    path = write_ts(
        tmp_path / "x.ts", [([np.array([1.0])], "Up"), ([np.array([2.0])], "up")], ["Up"]
    )
    assert [r.label for r in read_recordings(path, SPEC)] == ["Up", "Up"]
    path = write_ts(tmp_path / "y.ts", [([np.array([1.0])], "Up")], ["Up", "up"])
    with pytest.raises(DataError, match="differ only in letter case"):
        read_recordings(path, SPEC)


def test_wrong_dimension_counts(tmp_path: Path) -> None:
    two = [np.array([1.0]), np.array([2.0])]
    path = write_ts(tmp_path / "x.ts", [(two, "up"), (two, "up")], ["up"])
    path.write_text(path.read_text().replace("@dimensions 2", "@dimensions 3"))
    with pytest.raises(DataError, match="2 dimensions where @dimensions says 3") as caught:
        read_recordings(path, SPEC)
    assert caught.value.segment == "line 10"
    path.write_text(path.read_text().replace("@dimensions 3\n", "") + "1.0:up\n")
    with pytest.raises(DataError, match="1 dimensions where the first case has 2") as caught:
        read_recordings(path, SPEC)
    assert caught.value.segment == "line 11"


def test_truncated_file(tmp_path: Path) -> None:
    path = write_ts(tmp_path / "x.ts", [([np.array([1.0, 2.0])], "up")] * 3, ["up", "down"])
    text = path.read_text()
    path.write_text(text[: text.rindex(":") - 2])
    with pytest.raises(DataError, match="0 dimensions where @dimensions says 1") as caught:
        read_recordings(path, SPEC)
    assert caught.value.segment == "line 12" and "truncated" in caught.value.hint
    path.write_text(text[: text.index("@classLabel")])
    with pytest.raises(DataError, match="no @data section") as caught:
        read_recordings(path, SPEC)
    assert "truncated" in caught.value.hint


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (("@timeStamps false", "@timeStamps maybe"), "invalid timestamps value"),
        (("@univariate true\n", ""), "the header lacks @univariate"),
        (("@data", "@data now"), "data tag should not have an associated value"),
    ],
)
def test_corrupt_header(tmp_path: Path, change: tuple[str, str], rule: str) -> None:
    path = write_ts(tmp_path / "x.ts", [([np.array([1.0, 2.0])], "up")], ["up"])
    path.write_text(path.read_text().replace(*change))
    with pytest.raises(DataError, match=rule) as caught:
        read_recordings(path, SPEC)
    assert caught.value.file == str(path)
    path.write_bytes(b"@problemName \xff\xfe\n")
    with pytest.raises(DataError, match="not a text file"):
        read_recordings(path, SPEC)
