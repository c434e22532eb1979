"""The Prefect side of ``biomoe.scaleout``: shard jobs as task runs, on the task runner that
``scaleout`` in params names (``ThreadPoolTaskRunner``, ``ProcessPoolTaskRunner``, or
prefect-dask's ``DaskTaskRunner`` on a ``LocalCluster`` or an existing scheduler)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from biomoe.errors import StageTimeout
from biomoe.scaleout.params import ScaleoutParams
from biomoe.scaleout.runners import cores, keep_process_settings, local_cluster_kwargs

T = TypeVar("T")
R = TypeVar("R")


class IsolatedDaskTaskRunner(DaskTaskRunner):
    """prefect-dask's runner, leaving the flow process's environment and threads as they were
    (see ``biomoe.scaleout.runners.keep_process_settings``)."""

    @property
    def client(self) -> Any:
        """Created on first use, which is when a ``LocalCluster`` starts."""
        if self._client:
            return self._client
        with keep_process_settings():
            return super().client


class PrefectRunner:
    """Each job a task run of ``fn`` (named ``label``), mapped on the current flow's task runner.
    Past ``deadline`` (``time.monotonic()``) waiting for a job raises :class:`StageTimeout`
    with ``timeout_message``."""

    name = "prefect"

    def __init__(self, deadline: float | None = None, timeout_message: str = "") -> None:
        self.deadline = deadline
        self.timeout_message = timeout_message or "the stage ran past its deadline"

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], label: str) -> list[R]:
        shard_task = task(fn, name=label, cache_policy=NO_CACHE)
        futures = [
            shard_task.with_options(task_run_name=f"{label}-{i:04d}").submit(job)
            for i, job in enumerate(jobs)
        ]
        results = []
        for future in futures:
            left = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
            try:
                results.append(future.result(timeout=left))
            except TimeoutError:
                raise StageTimeout(self.timeout_message) from None
        return results


def prefect_task_runner(params: ScaleoutParams) -> Any:
    """The Prefect task runner matching ``params``, for ``flow.with_options(task_runner=...)``."""
    if params.runner == "dask":
        if params.dask.address:
            return IsolatedDaskTaskRunner(address=params.dask.address)
        return IsolatedDaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs=local_cluster_kwargs(params.dask),
        )
    workers = params.local.workers or cores()
    if params.local.kind == "processes":
        return ProcessPoolTaskRunner(max_workers=workers)
    return ThreadPoolTaskRunner(max_workers=workers)
