"""WFDB reader against records written by the ``wfdb`` package and read back by it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from biomoe.data.readers import ReadSpec, files_of, read_recordings
from biomoe.errors import DataError

wfdb = pytest.importorskip("wfdb")


def _record(directory: Path, fmt: str, name: str = "rec") -> Path:
    """Two signals at 360 Hz written by wfdb.wrsamp in storage format ``fmt``."""
    t = np.arange(720) / 360
    signals = np.stack([np.sin(2 * np.pi * 1.2 * t), 0.5 * np.cos(2 * np.pi * 7 * t) - 0.2], 1)
    wfdb.wrsamp(
        name,
        fs=360,
        units=["mV", "mV"],
        sig_name=["MLII", "V5"],
        p_signal=signals,
        fmt=[fmt, fmt],
        write_dir=str(directory),
    )
    return directory / f"{name}.hea"


@pytest.mark.parametrize("fmt", ["16", "212", "80", "24", "32", "508", "516", "524"])
def test_matches_wfdb(tmp_path: Path, fmt: str) -> None:
    header = _record(tmp_path, fmt)
    expected = wfdb.rdrecord(str(header.with_suffix("")))
    recordings = read_recordings(header, ReadSpec("wfdb"))
    assert [r.channel for r in recordings] == ["MLII", "V5"]
    assert all(r.fs == 360.0 and r.record == "rec" for r in recordings)
    for i, rec in enumerate(recordings):
        np.testing.assert_allclose(rec.signal, expected.p_signal[:, i], rtol=1e-5, atol=1e-6)


def test_folder_of_records_and_channel_selection(tmp_path: Path) -> None:
    _record(tmp_path, "16", "a")
    _record(tmp_path, "212", "b")
    recordings = read_recordings(tmp_path, ReadSpec("wfdb", channels=("V5",)))
    assert [(r.record, r.channel) for r in recordings] == [("a", "V5"), ("b", "V5")]
    with pytest.raises(DataError, match=r"channels \['II'\] not found"):
        read_recordings(tmp_path, ReadSpec("wfdb", channels=("II",)))


def test_rate_in_params_must_match_the_header(tmp_path: Path) -> None:
    header = _record(tmp_path, "16")
    with pytest.raises(DataError, match="header says 360 Hz but params say fs=250"):
        read_recordings(header, ReadSpec("wfdb", fs=250.0))


def test_truncated_dat(tmp_path: Path) -> None:
    header = _record(tmp_path, "16")
    dat = tmp_path / "rec.dat"
    dat.write_bytes(dat.read_bytes()[:1000])
    with pytest.raises(DataError, match="truncated: holds 250 of the 720 samples") as caught:
        read_recordings(header, ReadSpec("wfdb"))
    assert caught.value.file == str(dat)


def test_corrupt_dat_fails_the_checksum(tmp_path: Path) -> None:
    header = _record(tmp_path, "16")
    dat = tmp_path / "rec.dat"
    data = bytearray(dat.read_bytes())
    data[100] ^= 0x40
    dat.write_bytes(bytes(data))
    with pytest.raises(DataError, match="checksum") as caught:
        read_recordings(header, ReadSpec("wfdb"))
    assert (caught.value.file, caught.value.segment) == (str(dat), "MLII")


def test_missing_dat_and_unsupported_format(tmp_path: Path) -> None:
    header = _record(tmp_path, "16")
    (tmp_path / "rec.dat").unlink()
    with pytest.raises(DataError, match="signal file named by the header not found"):
        read_recordings(header, ReadSpec("wfdb"))
    header.write_text(header.read_text().replace(" 16 ", " 999 "))
    with pytest.raises(DataError, match="storage format '999' is not supported"):
        read_recordings(header, ReadSpec("wfdb"))


def _segment(directory: Path, name: str, sig_name: list[str], length: int, seed: int) -> object:
    """A segment of ``length`` frames at 100 Hz written by wfdb.wrsamp, as wfdb reads its header."""
    signals = np.round(np.random.default_rng(seed).normal(size=(length, len(sig_name))), 3)
    n = len(sig_name)
    wfdb.wrsamp(
        name,
        fs=100,
        units=["mV"] * n,
        sig_name=sig_name,
        p_signal=signals,
        fmt=["16"] * n,
        adc_gain=[200.0] * n,
        baseline=[0] * n,
        write_dir=str(directory),
    )
    return wfdb.rdheader(str(directory / name))


def _multi(directory: Path) -> Path:
    """Variable-layout record ``m``: a layout header (II, V, PLETH), segment m_0001 (II, V;
    30 frames), an empty ``~`` segment (10 frames) and m_0002 (V; 20 frames)."""
    first = _segment(directory, "m_0001", ["II", "V"], 30, 1)
    second = _segment(directory, "m_0002", ["V"], 20, 2)
    layout = wfdb.Record(
        record_name="m_layout",
        n_sig=3,
        fs=100,
        sig_len=0,
        sig_name=["II", "V", "PLETH"],
        file_name=["~"] * 3,
        fmt=["16"] * 3,
        adc_gain=[200.0] * 3,
        baseline=[0] * 3,
        units=["mV"] * 3,
        adc_res=[16] * 3,
        adc_zero=[0] * 3,
        init_value=[0] * 3,
        checksum=[0] * 3,
        block_size=[0] * 3,
    )
    # wfdb's field checks refuse the file name "~" of a layout header; its writer does not.
    layout.wr_header_file(*layout.get_write_fields(), write_dir=str(directory))
    wfdb.MultiRecord(
        segments=[layout, first, None, second],
        layout="variable",
        record_name="m",
        n_sig=3,
        fs=100,
        sig_len=60,
        seg_name=["m_layout", "m_0001", "~", "m_0002"],
        seg_len=[0, 30, 10, 20],
    ).wrheader(write_dir=str(directory))
    return directory / "m.hea"


def test_multi_segment_merge_matches_wfdb(tmp_path: Path) -> None:
    header = _multi(tmp_path)
    expected = wfdb.rdrecord(str(tmp_path / "m"))
    recordings = read_recordings(header, ReadSpec("wfdb"))
    assert [(r.record, r.channel, r.fs) for r in recordings] == [
        ("m", "II", 100.0),
        ("m", "V", 100.0),
        ("m", "PLETH", 100.0),
    ]
    for i, rec in enumerate(recordings):
        assert rec.signal.shape == (60,)
        np.testing.assert_allclose(rec.signal, expected.p_signal[:, i], rtol=1e-5, atol=1e-6)
    assert (
        np.isnan(recordings[0].signal[30:]).all() and not np.isnan(recordings[0].signal[:30]).any()
    )
    assert (
        np.isnan(recordings[1].signal[30:40]).all()
        and not np.isnan(recordings[1].signal[40:]).any()
    )
    assert np.isnan(recordings[2].signal).all()


def test_multi_segment_split_matches_each_segment(tmp_path: Path) -> None:
    header = _multi(tmp_path)
    recordings = read_recordings(header, ReadSpec("wfdb", segments="split"))
    assert [(r.record, r.channel) for r in recordings] == [
        ("m/m_0001", "II"),
        ("m/m_0001", "V"),
        ("m/m_0002", "V"),
    ]
    first = wfdb.rdrecord(str(tmp_path / "m_0001")).p_signal
    second = wfdb.rdrecord(str(tmp_path / "m_0002")).p_signal
    for rec, expected in zip(recordings, [first[:, 0], first[:, 1], second[:, 0]], strict=True):
        assert rec.fs == 100.0
        np.testing.assert_allclose(rec.signal, expected, rtol=1e-5, atol=1e-6)


def test_folder_reads_a_multi_segment_record_once(tmp_path: Path) -> None:
    _multi(tmp_path)
    _record(tmp_path, "16", "single")
    assert [p.name for p in files_of(tmp_path, "wfdb")] == ["m.hea", "single.hea"]
    recordings = read_recordings(tmp_path, ReadSpec("wfdb"))
    assert [(r.record, r.channel) for r in recordings] == [
        ("m", "II"),
        ("m", "V"),
        ("m", "PLETH"),
        ("single", "MLII"),
        ("single", "V5"),
    ]


def test_missing_segment_header(tmp_path: Path) -> None:
    header = _multi(tmp_path)
    (tmp_path / "m_0002.hea").unlink()
    with pytest.raises(DataError, match="segment header named by the master header not found") as e:
        read_recordings(header, ReadSpec("wfdb"))
    assert e.value.file == str(tmp_path / "m_0002.hea")
    assert e.value.segment == "segment 3 (m_0002) of record m"


def test_truncated_segment(tmp_path: Path) -> None:
    header = _multi(tmp_path)
    dat = tmp_path / "m_0002.dat"
    dat.write_bytes(dat.read_bytes()[:30])
    with pytest.raises(DataError, match="truncated: holds 15 of the 20 samples per signal") as e:
        read_recordings(header, ReadSpec("wfdb", segments="split"))
    assert (e.value.file, e.value.segment) == (str(dat), "V")


def _multi_frequency(directory: Path) -> Path:
    """Record ``mf`` at 50 frames/s: ECG with 4 samples a frame (200 Hz), RESP with 1."""
    t = np.arange(400) / 200
    wfdb.wrsamp(
        "mf",
        fs=50,
        units=["mV", "V"],
        sig_name=["ECG", "RESP"],
        e_p_signal=[np.round(np.sin(2 * np.pi * 3 * t), 3), np.round(np.cos(np.arange(100)), 3)],
        samps_per_frame=[4, 1],
        fmt=["16", "16"],
        adc_gain=[1000.0, 1000.0],
        baseline=[0, 0],
        write_dir=str(directory),
    )
    return directory / "mf.hea"


def test_multi_frequency_native_rates(tmp_path: Path) -> None:
    header = _multi_frequency(tmp_path)
    expected = wfdb.rdrecord(str(tmp_path / "mf"), smooth_frames=False).e_p_signal
    ecg, resp = read_recordings(header, ReadSpec("wfdb", frequencies="native"))
    assert (ecg.channel, ecg.fs, ecg.signal.size) == ("ECG", 200.0, 400)
    assert (resp.channel, resp.fs, resp.signal.size) == ("RESP", 50.0, 100)
    np.testing.assert_allclose(ecg.signal, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(resp.signal, expected[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ecg.signal[:3], np.round(np.sin(2 * np.pi * 3 * np.arange(3) / 200), 3)
    )


def test_multi_frequency_at_the_frame_rate(tmp_path: Path) -> None:
    header = _multi_frequency(tmp_path)
    expanded = wfdb.rdrecord(str(tmp_path / "mf"), smooth_frames=False)
    ecg, resp = read_recordings(header, ReadSpec("wfdb", frequencies="frame"))
    assert (ecg.fs, ecg.signal.size, resp.fs, resp.signal.size) == (50.0, 100, 50.0, 100)
    np.testing.assert_allclose(
        ecg.signal, expanded.e_p_signal[0].reshape(100, 4).mean(axis=1), atol=1e-6
    )
    np.testing.assert_allclose(ecg.signal, expanded.smooth_frames("physical")[:, 0], atol=1e-6)
    np.testing.assert_allclose(resp.signal, expanded.e_p_signal[1], atol=1e-6)
    # wfdb's own smoothing averages digital values and truncates: within one step of 1/gain
    smoothed = wfdb.rdrecord(str(tmp_path / "mf"), smooth_frames=True).p_signal[:, 0]
    np.testing.assert_allclose(ecg.signal, smoothed, atol=1e-3 + 1e-6)


def test_rhythm_annotations_split_recordings_into_labelled_spans(tmp_path: Path) -> None:
    header = _record(tmp_path, "16")
    wfdb.wrann(
        "rec",
        "atr",
        sample=np.array([0, 50, 300, 400, 500]),
        symbol=["+", "N", "+", "+", "+"],
        aux_note=["(N", "", "(AFIB", "(AFIB", "(VT"],
        write_dir=str(tmp_path),
    )
    whole = read_recordings(header, ReadSpec("wfdb"))
    recordings = read_recordings(header, ReadSpec("wfdb", annotation="atr"))
    assert [(r.record, r.channel, r.label, r.signal.size) for r in recordings] == [
        ("rec@0", "MLII", "N", 300),
        ("rec@300", "MLII", "AFIB", 200),
        ("rec@500", "MLII", "VT", 220),
        ("rec@0", "V5", "N", 300),
        ("rec@300", "V5", "AFIB", 200),
        ("rec@500", "V5", "VT", 220),
    ]
    np.testing.assert_array_equal(recordings[1].signal, whole[0].signal[300:500])
    np.testing.assert_array_equal(recordings[5].signal, whole[1].signal[500:])


def test_rhythm_spans_of_a_multi_segment_record(tmp_path: Path) -> None:
    header = _multi(tmp_path)
    wfdb.wrann(
        "m",
        "atr",
        sample=np.array([10, 45]),
        symbol=["+", "+"],
        aux_note=["(AFIB", "(N"],
        write_dir=str(tmp_path),
    )
    merged = read_recordings(header, ReadSpec("wfdb", annotation="atr", channels=("V",)))
    assert [(r.record, r.label, r.signal.size) for r in merged] == [
        ("m@0", None, 10),
        ("m@10", "AFIB", 35),
        ("m@45", "N", 15),
    ]
    split = read_recordings(
        header, ReadSpec("wfdb", segments="split", annotation="atr", channels=("V",))
    )
    assert [(r.record, r.label, r.signal.size) for r in split] == [
        ("m/m_0001@0", None, 10),
        ("m/m_0001@10", "AFIB", 20),
        ("m/m_0002@40", "AFIB", 5),
        ("m/m_0002@45", "N", 15),
    ]
    second = wfdb.rdrecord(str(tmp_path / "m_0002")).p_signal[:, 0]
    np.testing.assert_allclose(split[3].signal, second[5:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(merged[2].signal, second[5:], rtol=1e-5, atol=1e-6)


def test_annotation_file_missing_or_without_rhythm(tmp_path: Path) -> None:
    header = _record(tmp_path, "16")
    with pytest.raises(DataError, match="annotation file not found") as caught:
        read_recordings(header, ReadSpec("wfdb", annotation="atr"))
    assert caught.value.file == str(tmp_path / "rec.atr")
    wfdb.wrann("rec", "atr", sample=np.array([5, 9]), symbol=["N", "N"], write_dir=str(tmp_path))
    with pytest.raises(DataError, match="no rhythm note") as caught:
        read_recordings(header, ReadSpec("wfdb", annotation="atr"))
    assert caught.value.file == str(tmp_path / "rec.atr")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "empty WFDB header"),
        ("not a header\n", "WFDB header cannot be parsed: invalid syntax in record line"),
        (
            "rec 3 360 720\nrec.dat 16 200/mV 16 0 0 0 0 MLII\nrec.dat 16 200/mV 16 0 0 0 0 V5\n",
            "the record line announces 3 signals, the header describes 2",
        ),
        ("rec/2 360 720\nnot a segment line\n", "invalid syntax in segment line"),
    ],
)
def test_corrupt_header(tmp_path: Path, text: str, rule: str) -> None:
    header = _record(tmp_path, "16")
    header.write_text(text)
    with pytest.raises(DataError, match=re.escape(rule)) as caught:
        read_recordings(header, ReadSpec("wfdb"))
    assert caught.value.file == str(header)
