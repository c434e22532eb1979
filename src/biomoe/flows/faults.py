"""What keeps unattended runs safe: retries with back-off, one run per project, stage limits.

- :func:`retrying`: work that fails on a transient error (``biomoe.errors.is_transient``: the
  MLflow server or the DVC remote unreachable) runs again after ``retry_delay_s``, then twice as
  long each time, ``retries`` times; any other error is raised at once.
- :func:`project_lock`: an exclusive ``flock`` on ``ROOT/.dvc/tmp/biomoe-retrain.lock`` for
  the whole run, so two runs on one project (two triggers, a manual and a scheduled run) work one
  after the other: the second waits, then finds the first's work done. The operating system
  releases the lock when its holder exits, killed or not, so a dead run never blocks the next.
- :func:`run_cli_stage`: a stage as ``dvc repro`` runs it, a ``biomoe <stage>`` process, stopped
  (with its children) when it outlives its time limit. A stopped or killed stage leaves the
  outputs of its last complete run (stages write atomically) and no ``dvc.lock`` entry for this
  run, so the next run re-runs it.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil

from biomoe.config import ScheduleParams
from biomoe.errors import TRANSIENT_EXIT, BiomoeError, StageTimeout, TransientError, is_transient

T = TypeVar("T")

LOCK_FILE = Path(".dvc") / "tmp" / "biomoe-retrain.lock"
TAIL_LINES = 40
"""Lines of a failed stage's output quoted in its error."""


@dataclass(frozen=True)
class RetryPolicy:
    retries: int
    delay_s: float

    @classmethod
    def of(cls, schedule: ScheduleParams) -> RetryPolicy:
        return cls(schedule.retries, schedule.retry_delay_s)

    def delays(self) -> list[float]:
        """Seconds before each retry: ``delay_s``, ``2 delay_s``, ``4 delay_s`` ..."""
        return [self.delay_s * 2**attempt for attempt in range(self.retries)]


def retrying(
    work: Callable[[], T],
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``work()``, retried on transient errors as ``policy`` says."""
    delays = policy.delays()
    for attempt in range(len(delays) + 1):
        try:
            return work()
        except Exception as exc:
            if attempt == len(delays) or not is_transient(exc):
                raise
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            print(
                f"{what}: transient failure ({first_line[:300]}); retry {attempt + 1} of "
                f"{len(delays)} in {delays[attempt]:g} s"
            )
            sleep(delays[attempt])
    raise AssertionError("unreachable")


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError):
        text = path.read_text().strip()
        if text:
            return text
    return "unknown"


@contextlib.contextmanager
def project_lock(root: Path, timeout_s: float) -> Iterator[Path]:
    """Hold the project's run lock; wait up to ``timeout_s`` for another run to release it."""
    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(path)
                if time.monotonic() >= deadline:
                    raise BiomoeError(
                        f"{root}: another retrain run ({holder}) holds {path}; gave up after "
                        f"schedule.lock_timeout_s = {timeout_s:g} s"
                    ) from None
                if not waiting:
                    print(f"waiting for the retrain run holding {path} ({holder})")
                    waiting = True
                time.sleep(1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
        handle.flush()
        try:
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stop_tree(process: subprocess.Popen[str]) -> None:
    """SIGKILL ``process`` and every process it started (torchrun's workers, say)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        family = psutil.Process(process.pid).children(recursive=True)
        for member in [*family, psutil.Process(process.pid)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
    process.wait()


def run_cli_stage(
    name: str, root: Path, params_file: Path, tracking_uri: str | None, timeout_s: float
) -> None:
    """``biomoe NAME --root ROOT --params PARAMS_FILE`` in a process of its own, its output
    printed line by line; raise :class:`StageTimeout` after ``timeout_s``,
    :class:`TransientError` on the CLI's transient exit status, :class:`BiomoeError` on any
    other failure (quoting the end of its output)."""
    command = [sys.executable, "-m", "biomoe.cli", name, "--root", str(root)]
    command += ["--params", str(params_file)]
    if tracking_uri:
        command += ["--tracking-uri", tracking_uri]
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )

    def relay() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip())
            print(line.rstrip())

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _stop_tree(process)
        reader.join(timeout=5)
        raise StageTimeout(
            f"stage {name} ran past schedule.stage_timeout_s.{name} = {timeout_s:g} s and was "
            "stopped; nothing of it is recorded in dvc.lock (the next run re-runs it)"
        ) from None
    except BaseException:
        _stop_tree(process)
        raise
    reader.join(timeout=30)
    if code == TRANSIENT_EXIT:
        raise TransientError(f"stage {name}: " + " | ".join(list(tail)[-5:]))
    if code != 0:
        output = "\n".join(tail)
        raise BiomoeError(f"stage {name} failed (exit status {code}):\n{output}")
