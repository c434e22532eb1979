"""WFDB reader against records written by the ``wfdb`` package and read back by it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biomoe.data.readers import ReadSpec, read_recordings
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


@pytest.mark.parametrize("fmt", ["16", "212", "80", "24", "32"])
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
    with pytest.raises(DataError, match="checksum"):
        read_recordings(header, ReadSpec("wfdb"))


def test_missing_dat_and_unsupported_format(tmp_path: Path) -> None:
    header = _record(tmp_path, "16")
    (tmp_path / "rec.dat").unlink()
    with pytest.raises(DataError, match="signal file named by the header not found"):
        read_recordings(header, ReadSpec("wfdb"))
    header.write_text(header.read_text().replace(" 16 ", " 310 "))
    with pytest.raises(DataError, match="storage format '310' is not supported"):
        read_recordings(header, ReadSpec("wfdb"))
