"""EDF/BDF reader against files written and read by pyEDFlib (EDFlib, an independent C
implementation), including the EDF file that pyEDFlib ships."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biomoe.data.readers import ReadSpec, read_recordings
from biomoe.errors import DataError

pyedflib = pytest.importorskip("pyedflib")
highlevel = pytest.importorskip("pyedflib.highlevel")


def _write(path: Path, file_type: int) -> Path:
    """Two signals at different rates (EDF+ adds an annotation signal)."""
    fast, slow = np.sin(np.linspace(0, 60, 2560)) * 150, np.cos(np.linspace(0, 9, 640)) * 80
    headers = highlevel.make_signal_headers(["EEG Fz", "Resp"], physical_min=-200, physical_max=200)
    headers[0]["sample_frequency"], headers[1]["sample_frequency"] = 256, 64
    highlevel.write_edf(str(path), [fast, slow], headers, file_type=file_type)
    return path


@pytest.mark.parametrize(("name", "file_type"), [("x.edf", 1), ("x.bdf", 3)])
def test_matches_pyedflib(tmp_path: Path, name: str, file_type: int) -> None:
    path = _write(tmp_path / name, file_type)
    expected, _, _ = highlevel.read_edf(str(path))
    recordings = read_recordings(path, ReadSpec("edf"))
    assert [(r.channel, r.fs) for r in recordings] == [("EEG Fz", 256.0), ("Resp", 64.0)]
    for rec, values in zip(recordings, expected, strict=True):
        np.testing.assert_allclose(rec.signal, values, rtol=1e-5, atol=1e-4)


def test_bundled_generator_file() -> None:
    path = Path(pyedflib.__file__).parent / "data" / "test_generator.edf"
    expected, headers, _ = highlevel.read_edf(str(path))
    recordings = read_recordings(path, ReadSpec("edf", fs=200.0))
    assert [r.channel for r in recordings] == [h["label"] for h in headers]
    for rec, values in zip(recordings, expected, strict=True):
        np.testing.assert_allclose(rec.signal, values, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    ("offset", "patch", "rule"),
    [
        (0, b"9       ", "version field"),
        (236, b"abc     ", "not an integer: 'abc'"),
        (184, b"999     ", "header size 999 does not fit"),
    ],
)
def test_corrupt_header(tmp_path: Path, offset: int, patch: bytes, rule: str) -> None:
    path = _write(tmp_path / "x.edf", 1)
    data = bytearray(path.read_bytes())
    data[offset : offset + len(patch)] = patch
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=rule) as caught:
        read_recordings(path, ReadSpec("edf"))
    assert caught.value.file == str(path) and caught.value.segment.startswith("header")


def test_truncated_data_records(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.edf", 1)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated") as caught:
        read_recordings(path, ReadSpec("edf"))
    assert caught.value.segment == "data records"
