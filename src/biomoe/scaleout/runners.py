"""Runners: where the image and embedding shards run (``scaleout`` in params.yaml).

A runner maps a module-level function over a list of small, picklable jobs and returns the
results in job order. The stages never depend on which runner ran them: every job writes
content-addressed files and returns what the stage assembles, so outputs are byte-identical.

* ``LocalRunner``: this process, on a thread or process pool (``scaleout.local``).
* ``DaskRunner``: a Dask cluster, an existing scheduler's ``address`` or a ``LocalCluster``
  (``scaleout.dask``); every worker must see the project's ``data/`` folder at the same path.
* ``biomoe.scaleout.prefect_runner.PrefectRunner``: each job a Prefect task run, mapped on the
  flow's task runner (built from the same params). Used inside a flow only.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from typing import Any, Protocol, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from biomoe.scaleout.params import DaskRunnerParams, LocalRunnerParams, ScaleoutParams

T = TypeVar("T")
R = TypeVar("R")


class Runner(Protocol):
    name: str

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], label: str) -> list[R]:
        """``[fn(job) for job in jobs]``, run wherever the runner runs things, showing
        progress under ``label``; the first failure is raised once the others are done."""
        ...


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


class LocalRunner:
    """A thread pool (``kind="threads"``) or a process pool; one worker runs jobs inline."""

    def __init__(self, kind: str = "threads", workers: int = 1, progress: bool = True) -> None:
        self.kind = kind
        self.workers = workers or cores()
        self.progress = progress
        self.name = f"local ({self.workers} {kind})"

    def _executor(self) -> Executor:
        if self.kind == "processes":
            # spawn, never fork: a forked child inherits torch's and oneDNN's thread pools
            # mid-state and can hang on its first op
            return ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        return ThreadPoolExecutor(self.workers, thread_name_prefix="biomoe-shard")

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], label: str) -> list[R]:
        results: list[Any] = [None] * len(jobs)
        with _progress(self.progress and len(jobs) > 0) as bar:
            task = bar.add_task(label, total=len(jobs))
            if self.workers == 1:
                for i, job in enumerate(jobs):
                    results[i] = fn(job)
                    bar.advance(task)
                return results
            with self._executor() as pool:
                futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
                errors = []
                for future in as_completed(futures):
                    bar.advance(task)
                    if future.exception() is not None:
                        errors.append((futures[future], future.exception()))
                    else:
                        results[futures[future]] = future.result()
        if errors:
            raise min(errors, key=lambda e: e[0])[1]
        return results


@contextlib.contextmanager
def keep_process_settings() -> Iterator[None]:
    """Undo what starting a Dask ``LocalCluster`` does to the process that starts it.

    Its nanny writes ``OMP_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``,
    ``PYTHONHASHSEED`` and more into this process's environment for the workers it spawns, and
    leaves them there: every later stage (and the torchrun it launches) would then compute on one
    thread, with other float rounding. The environment and torch's thread count are restored.
    """
    environ = dict(os.environ)
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        if torch is not None and threads is not None:
            torch.set_num_threads(threads)


class DaskRunner:
    """Jobs on a Dask cluster: the scheduler at ``address``, or a ``LocalCluster`` started here
    (and closed with the runner)."""

    def __init__(self, params: DaskRunnerParams, progress: bool = True) -> None:
        from distributed import Client, LocalCluster

        self.progress = progress
        self._cluster = None
        if params.address:
            self.client = Client(params.address)
            self.name = f"dask ({params.address})"
        else:
            with keep_process_settings():
                self._cluster = LocalCluster(**local_cluster_kwargs(params))
                self.client = Client(self._cluster)
            self.name = f"dask (LocalCluster, {params.n_workers} workers)"

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], label: str) -> list[R]:
        from distributed import as_completed as dask_completed

        futures = self.client.map(fn, list(jobs), pure=False)
        with _progress(self.progress and len(jobs) > 0) as bar:
            task = bar.add_task(label, total=len(jobs))
            for _ in dask_completed(futures):
                bar.advance(task)
        return self.client.gather(futures)

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


@contextlib.contextmanager
def open_runner(params: ScaleoutParams, progress: bool = True) -> Iterator[Runner]:
    """The runner ``params`` choose, closed on exit."""
    if params.runner == "dask":
        runner = DaskRunner(params.dask, progress)
        try:
            yield runner
        finally:
            runner.close()
    else:
        yield local_runner(params.local, progress)


def local_runner(params: LocalRunnerParams, progress: bool = True) -> LocalRunner:
    return LocalRunner(params.kind, params.workers, progress)


def local_cluster_kwargs(params: DaskRunnerParams) -> dict[str, Any]:
    return {
        "n_workers": params.n_workers,
        "threads_per_worker": params.threads_per_worker,
        "processes": True,
        "dashboard_address": None,
        "host": "127.0.0.1",
    }
