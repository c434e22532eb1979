"""ARFF and UCR text readers: hand-written files per the formats (scipy writes no ARFF, so the
ARFF reader, an adapter over scipy's, is checked on files as Weka and the UEA archive write them:
univariate, relational multivariate, unequal length, missing values, truncated and corrupt), and
the bundled ArrowHead in .tsv against the same data in .ts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import arff as scipy_arff

from biomoe.data.readers import ReadSpec, Recording, read_recordings
from biomoe.errors import DataError


def _sktime_data() -> Path:
    spec = pytest.importorskip("sktime").__spec__
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


UNIVARIATE = """% UCR style
@relation Fixture
@attribute att1 numeric
@attribute att2 numeric
@attribute att3 numeric
@attribute att4 numeric
@attribute target {a,b}
@data
1.5,2,?,4,a
-0.5,2e3,7,8.25,b
"""

MULTIVARIATE = """@relation Motion
@attribute activity relational
  @attribute t0 numeric
  @attribute t1 numeric
  @attribute t2 numeric
@end activity
@attribute class {Standing,Running}
@data
'0.1,0.2,0.3\\n1.0,?,3.0',Standing
'0.5,0.6,0.7\\n4.0,5.0,6.0',Running
"""


def test_univariate_arff_matches_scipy(tmp_path: Path) -> None:
    path = tmp_path / "u.arff"
    path.write_text(UNIVARIATE)
    expected, _ = scipy_arff.loadarff(path)
    recordings = read_recordings(path, ReadSpec("arff", fs=50.0))
    assert len(recordings) == len(expected)
    for rec, row in zip(recordings, expected, strict=True):
        values = np.array([row[f"att{i}"] for i in range(1, 5)], dtype=np.float32)
        np.testing.assert_array_equal(rec.signal, values)
        assert rec.label == row["target"].decode() and rec.fs == 50.0


def test_multivariate_relational_arff(tmp_path: Path) -> None:
    path = tmp_path / "m.arff"
    path.write_text(MULTIVARIATE)
    recordings = read_recordings(path, ReadSpec("arff", fs=10.0))
    assert [(r.record, r.channel, r.label) for r in recordings] == [
        ("case00000", "dim_0", "Standing"),
        ("case00000", "dim_1", "Standing"),
        ("case00001", "dim_0", "Running"),
        ("case00001", "dim_1", "Running"),
    ]
    np.testing.assert_array_equal(recordings[1].signal, np.float32([1.0, np.nan, 3.0]))
    np.testing.assert_array_equal(recordings[3].signal, np.float32([4, 5, 6]))


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        ("1,2,3,4,c", "'c' is not among the nominal values \\('a', 'b'\\)"),
        ("1,2,3,a", "4 values where the header declares 5"),
        ("1,2,3,4,5,a", "6 values where the header declares 5"),
        ("1,x,3,4,a", "not a number: 'x'"),
        ("1,,3,4,a", "an empty value"),
        ("{0 1, 4 a}", "sparse .arff rows are not supported"),
    ],
)
def test_bad_arff_rows(tmp_path: Path, row: str, rule: str) -> None:
    path = tmp_path / "bad.arff"
    path.write_text(UNIVARIATE + row + "\n")
    with pytest.raises(DataError, match=rule) as caught:
        read_recordings(path, ReadSpec("arff", fs=1.0))
    assert caught.value.segment == "line 11"


def _read_arff(tmp_path: Path, text: str) -> list[Recording]:
    path = tmp_path / "x.arff"
    path.write_text(text)
    return read_recordings(path, ReadSpec("arff", fs=1.0))


def test_unequal_length_relational_arff_pads_with_nan(tmp_path: Path) -> None:
    text = MULTIVARIATE.replace("'0.5,0.6,0.7\\n4.0,5.0,6.0'", '"0.5,?,?\\n4.0,5.0,?"')
    text = text.replace("'0.1,0.2,0.3\\n1.0,?,3.0'", '"0.1,0.2,0.3\\n1.0,?,3.0"')
    recordings = _read_arff(tmp_path, text)
    np.testing.assert_array_equal(recordings[2].signal, np.float32([0.5, np.nan, np.nan]))
    np.testing.assert_array_equal(recordings[3].signal, np.float32([4.0, 5.0, np.nan]))
    assert all(r.signal.dtype == np.float32 and r.signal.size == 3 for r in recordings)


def test_relational_arff_rows_must_agree(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="3 dimensions where the first case has 2") as caught:
        _read_arff(tmp_path, MULTIVARIATE + "'1,2,3\\n4,5,6\\n7,8,9',Running\n")
    assert caught.value.segment == "line 11"
    with pytest.raises(DataError, match="fewer values than the relational") as caught:
        _read_arff(tmp_path, MULTIVARIATE + "'1,2\\n4,5,6',Running\n")
    assert caught.value.segment == "line 11"
    with pytest.raises(DataError, match="not a number: 'x'") as caught:
        _read_arff(tmp_path, MULTIVARIATE + "'1,2,x\\n4,5,6',Running\n")
    assert caught.value.segment == "line 11"
    with pytest.raises(DataError, match="first row's ' quotes") as caught:
        _read_arff(tmp_path, MULTIVARIATE + '"1,2,3\\n4,5,6",Running\n')
    assert caught.value.segment == "line 11"


def test_arff_without_class_and_with_missing_class(tmp_path: Path) -> None:
    text = UNIVARIATE.replace("@attribute target {a,b}\n", "").replace(",a\n", "\n")
    recordings = _read_arff(tmp_path, text.replace(",b\n", "\n"))
    assert [r.label for r in recordings] == [None, None]
    np.testing.assert_array_equal(recordings[0].signal, np.float32([1.5, 2, np.nan, 4]))
    recordings = _read_arff(tmp_path, UNIVARIATE + "5,6,7,8,?\n")
    assert [r.label for r in recordings] == ["a", "b", None]
    assert recordings[2].record == "case00002"


def test_truncated_arff(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no @data section") as caught:
        _read_arff(tmp_path, UNIVARIATE[: UNIVARIATE.index("@attribute target")])
    assert "truncated" in caught.value.hint
    with pytest.raises(DataError, match="4 values where the header declares 5") as caught:
        _read_arff(tmp_path, UNIVARIATE.rstrip("\n")[:-6])
    assert caught.value.segment == "line 10" and "truncated" in caught.value.hint
    with pytest.raises(DataError, match="1 values where the header declares 2") as caught:
        _read_arff(tmp_path, MULTIVARIATE[:-25])
    assert caught.value.segment == "line 10" and "truncated" in caught.value.hint


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (("att2 numeric", "att2 blob"), "corrupt header: unknown attribute blob"),
        (("@attribute att1 numeric", "@attribute"), "corrupt header"),
        (("{a,b}", "string"), "string attributes are not supported"),
        (("att2 numeric", "att2 {2,2e3}"), "attribute type 'nominal' is not a time step"),
    ],
)
def test_corrupt_arff_header(tmp_path: Path, change: tuple[str, str], rule: str) -> None:
    with pytest.raises(DataError, match=rule) as caught:
        _read_arff(tmp_path, UNIVARIATE.replace(*change))
    assert caught.value.file == str(tmp_path / "x.arff")


def test_not_an_arff_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no @data section"):
        _read_arff(tmp_path, "hello\nworld\n")
    with pytest.raises(DataError, match="holds no row"):
        _read_arff(tmp_path, UNIVARIATE[: UNIVARIATE.index("1.5")])
    path = tmp_path / "x.arff"
    path.write_bytes(b"@relation \xff\n")
    with pytest.raises(DataError, match="not a text file"):
        read_recordings(path, ReadSpec("arff", fs=1.0))
    with pytest.raises(DataError, match="do not store a sampling rate"):
        read_recordings(path, ReadSpec("arff"))


def test_bundled_tsv_equals_the_same_data_in_ts() -> None:
    data = _sktime_data() / "ArrowHead"
    from_tsv = read_recordings(data / "ArrowHead_TRAIN.tsv", ReadSpec("txt", fs=1.0))
    from_ts = read_recordings(data / "ArrowHead_TRAIN.ts", ReadSpec("ts", fs=1.0))
    assert len(from_tsv) == len(from_ts) == 36
    for a, b in zip(from_tsv, from_ts, strict=True):
        np.testing.assert_array_equal(a.signal, b.signal)
        assert a.label == b.label


def test_ucr_whitespace_text_with_float_labels(tmp_path: Path) -> None:
    path = tmp_path / "Coffee_TRAIN.txt"
    path.write_text("  1.0000000e+00  -5.1e-01  2.5e-01  NaN\n\n  2.0000000e+00   1.0  2.0  3.0\n")
    recordings = read_recordings(path, ReadSpec("txt", fs=1.0))
    assert [r.label for r in recordings] == ["1", "2"]
    np.testing.assert_array_equal(recordings[0].signal, np.float32([-0.51, 0.25, np.nan]))
    path.write_text("1 2 x\n")
    with pytest.raises(DataError, match="not a number: 'x'"):
        read_recordings(path, ReadSpec("txt", fs=1.0))
