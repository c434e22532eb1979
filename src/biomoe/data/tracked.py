"""Check that a regenerated data/raw is exactly what ``data.dvc`` records.

DVC reports "not in cache" rather than "modified" when the cache is empty (a fresh clone
without a remote), so the check re-hashes the workspace with ``dvc commit`` and compares the
recorded hash; on a mismatch the recorded ``data.dvc`` is restored and an error raised.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from biomoe.errors import DataError


def recorded_md5(dvc_file: Path) -> str:
    return yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"]


def verify_tracked_data(root: Path, dvc_file: str = "data.dvc") -> str:
    """Hash the tracked folder into the DVC cache; raise if it differs from ``dvc_file``."""
    from dvc.repo import Repo

    path = root / dvc_file
    recorded = path.read_text()
    expected = recorded_md5(path)
    with Repo(str(root)) as repo:
        repo.commit(str(path), force=True)
    found = recorded_md5(path)
    if found != expected:
        path.write_text(recorded)
        raise DataError(
            f"the tracked data hashes to {found}, but {dvc_file} records {expected}",
            file=root / yaml.safe_load(recorded)["outs"][0]["path"],
            hint="demo params or the generator changed; if intended, run `dvc add data/raw` "
            "and move data/raw.dvc to data.dvc",
        )
    return found
