"""The input data's DVC record, ``data.dvc``: check it, version new data into it, restore it.

- :func:`verify_tracked_data`: a regenerated data/raw is exactly what ``data.dvc`` records. DVC
  reports "not in cache" rather than "modified" when the cache is empty (a fresh clone without a
  remote), so the check re-hashes the workspace with ``dvc commit`` and compares the recorded
  hash; on a mismatch the recorded ``data.dvc`` is restored and an error raised.
- :func:`version_data`: what ``dvc add data/raw && dvc push data.dvc`` does, for the scheduled
  flow (after validation, before anything is trained on the data): the new md5 in ``data.dvc``,
  the files in the cache and on the default remote.
- :func:`restore_data`: data/raw as it was at a recorded md5 (a registered model version's
  ``dvc_data_md5`` tag), fetched from the remote.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import yaml

from biomoe.errors import DataError, TransientError


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


def _remote_error(exc: Exception, dvc_file: Path) -> TransientError:
    return TransientError(
        f"{dvc_file}: could not push the data it records to the DVC remote ({exc}); configure "
        "a default remote that this machine can reach (dvc remote add -d NAME URL): the data "
        "is versioned before it is trained on"
    )


def version_data(root: Path, dvc_file: str = "data.dvc") -> tuple[str, bool]:
    """Record the tracked folder in ``dvc_file`` when it changed (or is not yet in the cache)
    and push it to the default remote (a no-op for files already there); ``(md5, moved)``.
    A failed push raises :class:`TransientError` and leaves the new record in ``dvc_file`` (the next
    run pushes it)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    path = root / dvc_file
    before = recorded_md5(path)
    with contextlib.chdir(root), Repo(".") as repo:
        with repo.lock:
            [stage] = repo.stage.collect(dvc_file)
            stale = stage.changed()
        if stale:
            repo.commit(dvc_file, force=True)
        try:
            repo.push(targets=[dvc_file])
        except DvcException as exc:
            raise _remote_error(exc, path) from exc
    after = recorded_md5(path)
    return after, after != before


def restore_data(root: Path, md5: str, dvc_file: str = "data.dvc") -> Path:
    """Check out the tracked folder as recorded at ``md5`` (from the cache, else the default
    remote): ``dvc_file`` then records ``md5``. Nothing is changed when ``md5`` cannot be found."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    path = root / dvc_file
    recorded = path.read_text()
    document = yaml.safe_load(recorded)
    out = document["outs"][0]
    document["outs"][0] = {"md5": md5, "hash": "md5", "path": out["path"]}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        with contextlib.chdir(root), Repo(".") as repo:
            repo.fetch(targets=[dvc_file])
            repo.checkout(targets=[dvc_file], force=True)
            repo.commit(dvc_file, force=True)
    except DvcException as exc:
        path.write_text(recorded)
        raise DataError(
            f"data version {md5} is neither in the DVC cache nor on the remote: {exc}",
            file=path,
            hint="pull from the remote the version was pushed to (dvc remote list)",
        ) from exc
    return root / out["path"]
