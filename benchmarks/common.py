"""What the benchmark scripts share: timing loops, the machine they ran on, markdown tables and
their common arguments.

The scripts are run as ``python benchmarks/NAME.py`` from the project root; Python puts the
script's folder first on ``sys.path``, so they ``import common``. Nothing here imports ``biomoe``:
each script names its own ``biomoe`` imports at its top.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
P = TypeVar("P", bound=BaseModel)


# --- arguments ---------------------------------------------------------------------------------


def parser(
    doc: str | None, *, params: bool = False, workdir: bool = False
) -> argparse.ArgumentParser:
    """An argument parser described by the first line of ``doc`` (the script's docstring), with
    ``--params`` (the project's params.yaml) and ``--workdir`` (default: a fresh temp dir)."""
    result = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    if params:
        result.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    if workdir:
        result.add_argument("--workdir", type=Path, default=None, help="default: a new temp dir")
    return result


def workdir(args: argparse.Namespace, prefix: str) -> Path:
    return Path(args.workdir or tempfile.mkdtemp(prefix=prefix))


def with_updates(params: P, updates: Mapping[str, Any]) -> P:
    """A copy of a pydantic params model with ``updates`` merged into its nested fields (dicts
    merge, anything else replaces), validated again."""

    def merge(base: dict[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
        for key, value in new.items():
            old = base.get(key)
            nested = isinstance(old, dict) and isinstance(value, Mapping)
            base[key] = merge(old, value) if nested else value
        return base

    return type(params).model_validate(merge(params.model_dump(by_alias=True), updates))


# --- the machine -------------------------------------------------------------------------------


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> float:
    return os.getloadavg()[0]


def _busy_cpu_seconds() -> float | None:
    """CPU-seconds all processes have spent busy since boot (Linux ``/proc/stat``)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class OtherLoad:
    """How much of the CPU other processes used during the windows timed under ``window()``."""

    def __init__(self) -> None:
        self.others = self.wall = 0.0

    @contextlib.contextmanager
    def window(self) -> Iterator[None]:
        busy, own, start = _busy_cpu_seconds(), _own_cpu_seconds(), time.perf_counter()
        yield
        after = _busy_cpu_seconds()
        if busy is not None and after is not None:
            self.others += max(0.0, (after - busy) - (_own_cpu_seconds() - own))
            self.wall += time.perf_counter() - start

    def share(self) -> str:
        if not self.wall:
            return "unknown"
        return f"{100 * self.others / (self.wall * (os.cpu_count() or 1)):.0f} %"


# --- timing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Best wall-clock and best process-CPU seconds per item."""

    wall: float
    cpu: float

    @property
    def per_second(self) -> float:
        return 1.0 / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu * 1e6


def best_of(run: Callable[[], object], items: int, repeats: int) -> Timing:
    """``run`` (which handles ``items`` items) once to warm up, then the best of ``repeats``."""
    run()
    wall = cpu = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        run()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return Timing(wall / items, cpu / items)


def per_call(fn: Callable[[], object], min_time: float, load: OtherLoad | None = None) -> float:
    """Seconds per call of ``fn``, averaged over as many calls as fill ``min_time``."""
    with load.window() if load else contextlib.nullcontext():
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                return elapsed / calls


# --- output ------------------------------------------------------------------------------------


def markdown_table(
    columns: Sequence[str], rows: Sequence[Sequence[object]], left: Sequence[int] = (0,)
) -> str:
    """A markdown table of already formatted cells; columns in ``left`` are text, the rest
    numbers (right-aligned)."""
    rule = ["---" if i in left else "---:" for i in range(len(columns))]
    lines = [columns, rule, *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)
