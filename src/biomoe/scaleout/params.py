"""The scaleout section: where image and embedding shards run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from biomoe.section import Section


class LocalRunnerParams(Section):
    """Shards run in this process's pool: ``threads`` or ``processes``; ``workers`` 0 = one per
    available core."""

    kind: Literal["threads", "processes"]
    workers: int = Field(ge=0)


class DaskRunnerParams(Section):
    """``address`` of a running Dask scheduler (``tcp://host:8786``), or null for a
    ``LocalCluster`` of ``n_workers`` processes with ``threads_per_worker`` threads each."""

    address: str | None
    n_workers: int = Field(ge=1)
    threads_per_worker: int = Field(ge=1)


class ScaleoutParams(Section):
    """The scaleout section: where image and embedding shards run, ``local`` or ``dask``.
    Outputs are byte-identical whichever runs them."""

    runner: Literal["local", "dask"]
    local: LocalRunnerParams
    dask: DaskRunnerParams
