"""``ThreadedTinyBioMoE``: ``FastTinyBioMoE`` on single-threaded workers.

A batch of ``B >= 2`` is cut into chunks of ``chunk`` images that the workers take in turn
(small chunks keep each worker's activations in cache); a single image has its two experts
run side by side. Each chunk runs on one thread and its result depends only on its images, so
outputs are bit-identical whatever the number of workers (or machine cores).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from biomoe.model.inference.fast import FastTinyBioMoE
from biomoe.model.inference.workers import SingleThreadedWorkers

CHUNK: dict[torch.dtype, int] = {torch.float32: 2, torch.bfloat16: 4}
"""Images per chunk by the experts' dtype: the fastest on 2 cores at batches of 8 (one served
sample) and 64 (``benchmarks/embedding.py --chunks``)."""


class ThreadedTinyBioMoE(nn.Module):
    """``fast`` run on ``workers`` single-threaded workers (see the module docstring), in
    chunks of ``chunk`` images (default ``CHUNK`` of ``fast.dtype``)."""

    def __init__(self, fast: FastTinyBioMoE, workers: int, chunk: int | None = None) -> None:
        super().__init__()
        chunk = CHUNK[fast.dtype] if chunk is None else chunk
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.fast = fast
        self.chunk = chunk
        self.pool = SingleThreadedWorkers(workers)

    def forward(self, x: Tensor) -> Tensor:
        fast = self.fast
        if x.shape[0] == 1:
            x = fast.normalize(x)
            z1 = self.pool.submit(fast.enc1, x)
            z2 = self.pool.submit(fast.enc2, x)
            return fast.combine(z1.result(), z2.result())
        return torch.cat(self.pool.map(fast, x.split(self.chunk)))

    def close(self) -> None:
        """Stop the worker threads (also done when the module is garbage-collected)."""
        self.pool.close()
