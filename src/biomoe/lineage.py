"""Change detection for the pipeline, asked of DVC: one fingerprint for both doors.

The Prefect flow runs a stage exactly when ``dvc repro`` would, and records it in ``dvc.lock``
exactly as ``dvc repro`` does, because it asks DVC the same questions ``dvc repro`` asks
(``dvc.stage.Stage.reproduce``), in the same order, instead of keeping fingerprints of its own:

1. :func:`stale` — ``Stage.changed()``: a dep, a param, the cmd or an out differs from the
   stage's ``dvc.lock`` entry (or there is none). Unchanged stages are skipped.
2. :func:`restore` — DVC's run cache: a changed stage whose deps, params and cmd match an
   earlier run gets that run's outs checked out instead of running (only stages whose outs are
   all cached and not persistent qualify: DVC's rule).
3. the stage runs (the caller's job), then :func:`record` — ``Stage.save`` (hash deps and outs,
   with a run-cache entry where ``dvc repro`` would make one), ``Stage.commit`` (outs into the
   cache) and ``Stage.dump`` (the stage's lock entry).

A stage is asked about just before it would run, after its upstream stages are recorded, as
``dvc repro`` does: an upstream stage that re-ran but wrote the same bytes leaves its
downstream stages unchanged.

:func:`divergences` compares two ``dvc.lock`` documents stage by stage (``biomoe verify``: a
run's lock against the committed one), so the first stage that wrote other bytes from the same
inputs (the machine computed differently) is named, apart from stages whose inputs changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml

if TYPE_CHECKING:
    from dvc.repo import Repo
    from dvc.stage import Stage

Action = Literal["skipped", "restored", "ran"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one stage, and why (DVC's words for what changed)."""

    stage: str
    action: Action
    reasons: tuple[str, ...] = ()

    def summary(self, most: int = 6) -> str:
        """``"images: ran (dep data/interim/windows.parquet; ...)"``, at most ``most`` reasons."""
        shown = list(self.reasons[:most])
        if len(self.reasons) > most:
            shown.append(f"{len(self.reasons) - most} more")
        return f"{self.stage}: {self.action}" + (f" ({'; '.join(shown)})" if shown else "")


@contextlib.contextmanager
def _stage(root: Path, name: str) -> Iterator[tuple[Repo, Stage]]:
    """Stage ``name`` of ``root``'s dvc.yaml, with the repository's lock held, in ``root`` as
    the working directory (DVC resolves stage paths against it, as its command line does)."""
    from dvc.repo import Repo

    with contextlib.chdir(root), Repo(".") as repo, repo.lock:
        [stage] = repo.stage.collect(f"dvc.yaml:{name}")
        yield repo, stage


def _locked(root: Path, name: str) -> bool:
    """Whether ``dvc.lock`` has an entry for stage ``name``."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return False
    return name in (yaml.safe_load(lock.read_text()) or {}).get("stages", {})


def stale(root: Path, name: str) -> tuple[str, ...]:
    """Why ``dvc repro`` would run stage ``name`` now; empty when it would skip it."""
    with _stage(root, name) as (_, stage):
        if not stage.changed():
            return ()
        if not _locked(root, name):
            return ("no dvc.lock entry yet",)
        deps, outs, entry = stage.changed_entries()
        reasons = [f"dep {dep}" for dep in deps] + [f"out {out}" for out in outs]
        if entry:
            reasons.append("cmd, params or the set of deps/outs differ from dvc.lock")
        return tuple(reasons) or ("changed",)


def _save(stage: Stage) -> None:
    """What ``Stage.run`` does after the command, then ``dvc repro``'s dump of the lock entry."""
    uncached = any(not out.use_cache for out in stage.outs if not (out.is_metric or out.is_plot))
    stage.save(run_cache=not uncached)
    stage.commit()
    stage.dump(update_pipeline=False)


def restore(root: Path, name: str) -> bool:
    """Check out stage ``name``'s outs from DVC's run cache and record it; False on a miss."""
    from dvc.stage.cache import RunCacheNotFoundError

    with _stage(root, name) as (repo, stage):
        try:
            repo.stage_cache.restore(stage)
        except RunCacheNotFoundError:
            return False
        _save(stage)
        return True


def record(root: Path, name: str) -> None:
    """Record a finished run of stage ``name`` in ``dvc.lock`` and the cache, as ``dvc repro``."""
    with _stage(root, name) as (_, stage):
        _save(stage)


def reproduce(root: Path, name: str, run: Callable[[], object]) -> Outcome:
    """Stage ``name`` the way ``dvc repro`` treats it, with ``run`` in place of its cmd."""
    reasons = stale(root, name)
    if not reasons:
        return Outcome(name, "skipped")
    if restore(root, name):
        return Outcome(name, "restored", reasons)
    run()
    record(root, name)
    return Outcome(name, "ran", reasons)


@dataclass(frozen=True)
class Divergence:
    """How one stage of a run differs from a reference ``dvc.lock`` (e.g. the committed one)."""

    stage: str
    inputs: tuple[str, ...]
    """Deps and params whose recorded values differ (or exist on one side only)."""
    outputs: tuple[str, ...]
    """Outs whose recorded hashes differ."""

    @property
    def machine_dependent(self) -> bool:
        """Same inputs, other outputs: the stage computed differently here."""
        return not self.inputs and bool(self.outputs)


def _entries(stage: dict, key: str) -> dict[str, str]:
    return {entry["path"]: str(entry.get("md5")) for entry in stage.get(key) or []}


def _params(stage: dict) -> dict[str, str]:
    return {
        f"{file}:{name}": repr(value)
        for file, values in (stage.get("params") or {}).items()
        for name, value in values.items()
    }


def _differing(ours: dict[str, str], theirs: dict[str, str]) -> tuple[str, ...]:
    return tuple(sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)))


def divergences(reference: dict, run: dict, stages: tuple[str, ...]) -> list[Divergence]:
    """The ``stages`` (in pipeline order) whose lock entries differ between two ``dvc.lock``
    documents; a stage missing on one side differs in every input."""
    found = []
    for name in stages:
        theirs = (reference.get("stages") or {}).get(name, {})
        ours = (run.get("stages") or {}).get(name, {})
        if not theirs or not ours:
            found.append(Divergence(name, ("no lock entry on one side",), ()))
            continue
        inputs = _differing(_entries(ours, "deps"), _entries(theirs, "deps"))
        inputs += _differing(_params(ours), _params(theirs))
        if ours.get("cmd") != theirs.get("cmd"):
            inputs += ("cmd",)
        outputs = _differing(_entries(ours, "outs"), _entries(theirs, "outs"))
        if inputs or outputs:
            found.append(Divergence(name, inputs, outputs))
    return found


def stale_inputs(root: Path) -> list[str]:
    """The code and params deps of every stage whose hash or values in ``dvc.lock`` are not
    this checkout's: the lock was not regenerated after a change. Deps that some stage or
    ``data.dvc`` produces (data, models, metrics: absent from a fresh clone) are not looked at,
    so this runs in seconds on a clone with nothing built."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with contextlib.chdir(root), Repo(".") as repo:
        stages = list(repo.index.stages)
        produced = {Path(out.def_path) for stage in stages for out in stage.outs}
        found = []
        for stage in stages:
            for dep in stage.deps:
                path = Path(dep.def_path)
                built = any(path == out or out in path.parents for out in produced)
                if (isinstance(dep, ParamsDependency) or not built) and dep.workspace_status():
                    found.append(f"{stage.addressing}: {dep.def_path} ({dep.workspace_status()})")
        return found
