"""A thread pool whose workers each run PyTorch with one intra-op thread.

On a few cores, running independent work side by side on single-threaded workers beats
splitting every operator across threads: no barrier after each op, each core keeps its own
cache, and a core taken by another process delays one worker instead of every op.
PyTorch ops release the GIL, so threads suffice.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")


def _single_threaded(barrier: threading.Barrier) -> None:
    torch.set_num_threads(1)
    torch.zeros(2).add_(1)  # PyTorch fixes a thread's intra-op count at its first op
    barrier.wait()


class SingleThreadedWorkers:
    """``workers`` threads, each with one intra-op PyTorch thread, running under
    ``torch.inference_mode``.

    Creating the pool briefly sets the process-wide default thread count to 1 while the
    workers start, then restores it: threads other than the workers keep their setting.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        saved = torch.get_num_threads()
        barrier = threading.Barrier(workers)
        self._pool = ThreadPoolExecutor(
            workers,
            thread_name_prefix="biomoe-infer",
            initializer=_single_threaded,
            initargs=(barrier,),
        )
        try:
            for future in [self._pool.submit(int) for _ in range(workers)]:
                future.result()
        finally:
            torch.set_num_threads(saved)
        self._finalizer = weakref.finalize(self, self._pool.shutdown, wait=False)

    def submit(self, fn: Callable[..., R], *args: object) -> Future[R]:
        return self._pool.submit(_in_inference_mode, fn, *args)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return [future.result() for future in [self.submit(fn, item) for item in items]]

    def close(self) -> None:
        self._finalizer()


def _in_inference_mode(fn: Callable[..., R], *args: object) -> R:
    with torch.inference_mode():
        return fn(*args)
