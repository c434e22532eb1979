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

EDF, EDFPLUS, BDF, BDFPLUS = 0, 1, 2, 3
RATES = {"EEG Fz": 256, "Resp": 64}


def _write(path: Path, file_type: int) -> Path:
    """Two signals at different rates, ten 1-s data records (EDF+ adds an annotation signal)."""
    fast, slow = np.sin(np.linspace(0, 60, 2560)) * 150, np.cos(np.linspace(0, 9, 640)) * 80
    headers = highlevel.make_signal_headers(["EEG Fz", "Resp"], physical_min=-200, physical_max=200)
    headers[0]["sample_frequency"], headers[1]["sample_frequency"] = 256, 64
    highlevel.write_edf(str(path), [fast, slow], headers, file_type=file_type)
    return path


def _discontinuous(path: Path, file_type: int, onsets: list[float]) -> Path:
    """An EDF+D (BDF+D) file: pyEDFlib cannot write one (its writer always writes EDF+C), so
    the EDF+C (BDF+C) file of :func:`_write` is made discontinuous the way an EDF+D writer
    would leave it: the reserved field says ``EDF+D`` and the time-keeping TAL of data record
    ``r`` says ``+<onsets[r]>``. pyEDFlib writes the annotation signal last in each record and
    no other annotation here, so that signal's bytes are the TAL and zero padding."""
    _write(path, file_type)
    with pyedflib.EdfReader(str(path)) as edf:
        n_records = edf.datarecords_in_file
        data_samples = sum(edf.samples_in_datarecord(i) for i in range(edf.signals_in_file))
        header_bytes = 256 * (edf.signals_in_file + 2)
    assert len(onsets) == n_records
    raw = bytearray(path.read_bytes())
    raw[192:197] = b"BDF+D" if file_type == BDFPLUS else b"EDF+D"
    record_bytes = (len(raw) - header_bytes) // n_records
    tal_start = (3 if file_type == BDFPLUS else 2) * data_samples
    for r, onset in enumerate(onsets):
        start = header_bytes + r * record_bytes
        tal = f"+{onset:g}\x14\x14".encode().ljust(record_bytes - tal_start, b"\0")
        raw[start + tal_start : start + record_bytes] = tal
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(
    ("name", "file_type"),
    [("x.edf", EDF), ("x.edf", EDFPLUS), ("x.bdf", BDF), ("x.bdf", BDFPLUS)],
)
def test_matches_pyedflib(tmp_path: Path, name: str, file_type: int) -> None:
    path = _write(tmp_path / name, file_type)
    expected, _, _ = highlevel.read_edf(str(path))
    recordings = read_recordings(path, ReadSpec("edf"))
    assert [(r.channel, r.fs) for r in recordings] == [("EEG Fz", 256.0), ("Resp", 64.0)]
    assert {(r.record, r.source_file) for r in recordings} == {("x", str(path))}
    for rec, values in zip(recordings, expected, strict=True):
        assert rec.signal.dtype == np.float32 and rec.signal.shape == values.shape
        np.testing.assert_allclose(rec.signal, values, rtol=1e-5, atol=1e-4)


def test_bundled_generator_file() -> None:
    path = Path(pyedflib.__file__).parent / "data" / "test_generator.edf"
    expected, headers, _ = highlevel.read_edf(str(path))
    recordings = read_recordings(path, ReadSpec("edf", fs=200.0))
    assert [r.channel for r in recordings] == [h["label"] for h in headers]
    for rec, values in zip(recordings, expected, strict=True):
        np.testing.assert_allclose(rec.signal, values, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(("name", "file_type"), [("x.edf", EDFPLUS), ("x.bdf", BDFPLUS)])
def test_discontinuous_file_splits_at_gaps(tmp_path: Path, name: str, file_type: int) -> None:
    continuous, _, _ = highlevel.read_edf(str(_write(tmp_path / f"c{name}", file_type)))
    onsets = [0, 1, 2, 3, 6.5, 7.5, 8.5, 19.5, 20.5, 21.5]
    path = _discontinuous(tmp_path / name, file_type, onsets)
    recordings = read_recordings(path, ReadSpec("edf"))
    pieces = [("x@0s", 0, 4), ("x@6.5s", 4, 7), ("x@19.5s", 7, 10)]
    assert [(r.record, r.channel) for r in recordings] == [
        (piece, channel) for piece, _, _ in pieces for channel in RATES
    ]
    for rec in recordings:
        _, first, stop = next(p for p in pieces if p[0] == rec.record)
        rate = RATES[rec.channel]
        assert rec.fs == rate and rec.signal.shape == ((stop - first) * rate,)
        values = continuous[list(RATES).index(rec.channel)][first * rate : stop * rate]
        np.testing.assert_allclose(rec.signal, values, rtol=1e-5, atol=1e-4)


def test_discontinuous_file_without_gaps_is_one_recording(tmp_path: Path) -> None:
    continuous, _, _ = highlevel.read_edf(str(_write(tmp_path / "c.edf", EDFPLUS)))
    path = _discontinuous(tmp_path / "x.edf", EDFPLUS, [5.0 + r for r in range(10)])
    recordings = read_recordings(path, ReadSpec("edf"))
    assert [(r.record, r.channel, r.signal.size) for r in recordings] == [
        ("x", "EEG Fz", 2560),
        ("x", "Resp", 640),
    ]
    np.testing.assert_allclose(recordings[1].signal, continuous[1], rtol=1e-5, atol=1e-4)


def test_channel_selection(tmp_path: Path) -> None:
    path = _discontinuous(tmp_path / "x.edf", EDFPLUS, [0, 1, 2, 3, 4, 10, 11, 12, 13, 14])
    expected, _, _ = highlevel.read_edf(str(_write(tmp_path / "c.edf", EDFPLUS)))
    recordings = read_recordings(path, ReadSpec("edf", fs=64.0, channels=("Resp",)))
    assert [(r.record, r.channel, r.fs) for r in recordings] == [
        ("x@0s", "Resp", 64.0),
        ("x@10s", "Resp", 64.0),
    ]
    np.testing.assert_allclose(
        np.concatenate([r.signal for r in recordings]), expected[1], rtol=1e-5, atol=1e-4
    )


def test_fs_mismatch(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.edf", EDFPLUS)
    with pytest.raises(DataError, match="header says 256 Hz but params say fs=64") as caught:
        read_recordings(path, ReadSpec("edf", fs=64.0))
    assert caught.value.segment == "signal 'EEG Fz'"


@pytest.mark.parametrize(
    ("offset", "patch", "rule", "segment"),
    [
        (0, b"9       ", "version field", "header: version"),
        (236, b"abc     ", "not an integer: 'abc'", "header: number of data records"),
        (236, b"-1      ", "'-1' is not a positive integer", "header: number of data records"),
        (184, b"999     ", "header size 999 does not fit", "header: number of bytes"),
        (256 + 3 * 104 + 8, b"low     ", "not a number: 'low'", "signal 'Resp': physical minimum"),
        (256 + 3 * 128, b"-32768  ", "digital range -32768..-32768", "signal 'EEG Fz': digital"),
        (244, b"0       ", "record duration must be positive", "header: duration of a data"),
    ],
)
def test_corrupt_header(tmp_path: Path, offset: int, patch: bytes, rule: str, segment: str) -> None:
    path = _write(tmp_path / "x.edf", EDFPLUS)
    data = bytearray(path.read_bytes())
    data[offset : offset + len(patch)] = patch
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=rule) as caught:
        read_recordings(path, ReadSpec("edf"))
    assert caught.value.file == str(path) and caught.value.segment.startswith(segment)


def test_shorter_than_a_header(tmp_path: Path) -> None:
    path = tmp_path / "x.edf"
    path.write_bytes(_write(path, EDF).read_bytes()[:100])
    with pytest.raises(DataError, match="100 bytes, shorter than the 256-byte EDF header"):
        read_recordings(path, ReadSpec("edf"))


def test_truncated_data_records(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.edf", EDFPLUS)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated") as caught:
        read_recordings(path, ReadSpec("edf"))
    assert caught.value.segment == "data records"
    assert "announces 10 data records of 754 bytes" in caught.value.rule
    assert "(9 complete data records)" in caught.value.rule


def test_annotations_only(tmp_path: Path) -> None:
    path = tmp_path / "x.edf"
    writer = pyedflib.EdfWriter(str(path), 0, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.writeAnnotation(0.5, -1, "lights off")
    writer.close()
    with pytest.raises(DataError, match="only annotation signals") as caught:
        read_recordings(path, ReadSpec("edf"))
    assert caught.value.file == str(path)


def test_discontinuous_onset_going_back(tmp_path: Path) -> None:
    path = _discontinuous(tmp_path / "x.edf", EDFPLUS, [0, 1, 2, 3, 4, 4.5, 6, 7, 8, 9])
    with pytest.raises(DataError, match="before the end of the previous data record") as caught:
        read_recordings(path, ReadSpec("edf"))
    assert caught.value.segment == "data record 6 of 10: time-keeping TAL"


def test_discontinuous_record_without_time_keeping(tmp_path: Path) -> None:
    path = _discontinuous(tmp_path / "x.edf", EDFPLUS, list(range(10)))
    raw = bytearray(path.read_bytes())
    tal = 1024 + 2 * 754 + 640
    raw[tal : tal + 4] = b"\0\0\0\0"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="not the time-keeping TAL") as caught:
        read_recordings(path, ReadSpec("edf"))
    assert caught.value.segment == "data record 3 of 10: EDF Annotations"
