"""Everything distributed in one place: the process group, and BatchNorm across processes.

A worker learns its place from the variables ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``); without them it is the only process and no process group is made. CPU runs
use gloo, CUDA runs NCCL with one GPU per local rank.

``torch.nn.SyncBatchNorm`` refuses CPU tensors (torch 2.13: "expected input tensor to be on
GPU"), so ``GlobalBatchNorm2d`` computes the batch statistics with a differentiable
all-reduce that works on gloo and NCCL alike (like ``SyncBatchNorm``, it gathers each rank's
count, mean and variance and combines them); autograd's backward of an all-reduce is the
all-reduce of the gradients, which carries every rank's share of the loss to the inputs of
every other rank. The maths are those of one BatchNorm over the concatenated micro-batches
of all ranks, so N processes with batch B train like one with batch N*B.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class DistEnv:
    """Where this process stands: ``rank`` of ``world_size``, and its ``device``."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, writes checkpoints and talks to MLflow."""
        return self.rank == 0


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("pretrain.device is cuda but torch sees no CUDA device")
    return torch.device(device)


def setup(device: str, environ: Mapping[str, str]) -> DistEnv:
    """Join the process group ``torchrun`` described in ``environ`` (gloo on CPU, NCCL on
    CUDA), or run alone when it describes none."""
    kind = resolve_device(device).type
    world_size = int(environ.get("WORLD_SIZE", "1"))
    rank = int(environ.get("RANK", "0"))
    local_rank = int(environ.get("LOCAL_RANK", "0"))
    if kind == "cuda":
        torch.cuda.set_device(local_rank)
        here = torch.device("cuda", local_rank)
    else:
        here = torch.device("cpu")
    if world_size > 1:
        backend = "nccl" if kind == "cuda" else "gloo"
        dist.init_process_group(
            backend, rank=rank, world_size=world_size, timeout=TIMEOUT, device_id=_device_id(here)
        )
    return DistEnv(rank=rank, world_size=world_size, local_rank=local_rank, device=here)


def _device_id(device: torch.device) -> torch.device | None:
    return device if device.type == "cuda" else None


def teardown(env: DistEnv) -> None:
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: Tensor, env: DistEnv) -> Tensor:
    """The sum over ranks (in place; a no-op for one process)."""
    if env.distributed:
        dist.all_reduce(tensor)
    return tensor


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def gather_to_main(obj: object, env: DistEnv) -> list[object] | None:
    """Every rank's ``obj`` on rank 0 (in rank order); ``None`` on the others."""
    if not env.distributed:
        return [obj]
    gathered: list[object] | None = [None] * env.world_size if env.is_main else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) whose backward is the all-reduce of the gradient: every rank's output
    feeds its own loss, so the input of each rank receives the gradients of all of them."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor) -> Tensor:
        tensor = tensor.clone()
        dist.all_reduce(tensor)
        return tensor

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def sum_over_ranks(tensor: Tensor) -> Tensor:
    """Differentiable sum of ``tensor`` over all ranks."""
    return _SumOverRanks.apply(tensor)


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training statistics span all ranks (CPU/gloo and CUDA/NCCL).

    Same parameters, buffers and state-dict keys as ``BatchNorm2d``; alone, in eval mode or
    outside a process group it is exactly ``BatchNorm2d``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        mean, var, count = _global_moments(x.float() if x.dtype in _HALF else x)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), count.detach())
        shape = (1, -1, 1, 1)
        y = (x.to(mean.dtype) - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor, count: Tensor) -> None:
        self.num_batches_tracked.add_(1)
        momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * count / (count - 1).clamp(min=1)
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)


_HALF = (torch.float16, torch.bfloat16)


def _global_moments(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-channel mean and (biased) variance of ``x`` [B, C, H, W] over every rank's batch,
    and the element count. Each rank puts its count, mean and sum of squared deviations in its
    row of a table that one all-reduce fills in (an all-gather); the rows are combined with
    Chan's formula, as stable as a two-pass variance. One collective forward, one backward."""
    channels = x.shape[1]
    local_mean = x.mean((0, 2, 3))
    local_m2 = (x - local_mean.view(1, -1, 1, 1)).pow(2).sum((0, 2, 3))
    local_n = x.new_full((1,), x.numel() / channels)
    row = torch.cat([local_n, local_mean, local_m2])
    rows = [
        row if r == dist.get_rank() else torch.zeros_like(row) for r in range(dist.get_world_size())
    ]
    table = sum_over_ranks(torch.stack(rows))
    n, means, m2s = table[:, :1], table[:, 1 : 1 + channels], table[:, 1 + channels :]
    count = n.sum()
    mean = (n * means).sum(0) / count
    m2 = (m2s + n * (means - mean).pow(2)).sum(0)
    return mean, m2 / count, count


def globalize_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every ``BatchNorm2d`` in ``module`` for a ``GlobalBatchNorm2d`` holding the same
    values (state-dict keys unchanged); returns ``module``. Call it before making the optimizer."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            swapped = GlobalBatchNorm2d(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            swapped.load_state_dict(child.state_dict())
            swapped.to(device=_device_of(child))
            swapped.train(child.training)
            setattr(module, name, swapped)
        else:
            globalize_batchnorm(child)
    return module


def _device_of(module: nn.Module) -> torch.device:
    tensors = [*module.parameters(), *module.buffers()]
    return tensors[0].device if tensors else torch.device("cpu")
