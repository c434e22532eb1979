"""Recordings shipped in installed packages: found, read, or unavailable with a reason."""

from __future__ import annotations

import numpy as np
import pytest

from biomoe.corpus.packaged import PACKAGED, PackagedDataset, locate, packaged_dataset
from biomoe.errors import DataError


def test_bundled_mitdb_csv() -> None:
    files = locate(PACKAGED["sktime_mitdb"])
    if isinstance(files, str):
        pytest.skip(files)
    (rec,) = PACKAGED["sktime_mitdb"].read(files)
    assert rec.fs == 360.0 and rec.signal.shape == (7500,) and np.isfinite(rec.signal).all()


def test_missing_package_or_name_says_why() -> None:
    ghost = PackagedDataset("ghost", "biomoe_no_such_package", ("x.dat",), "eeg", lambda _: [])
    assert locate(ghost) == (
        "package 'biomoe_no_such_package' is not installed (pip install biomoe_no_such_package)"
    )
    with pytest.raises(DataError, match="unknown packaged dataset 'ghost'") as caught:
        packaged_dataset("ghost")
    assert caught.value.segment == "corpus.packaged.datasets"
