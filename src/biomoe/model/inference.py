"""A fast inference path for Tiny-BioMoE: the eager model's embeddings, in less time.

``optimize_for_inference(model)`` builds a frozen copy of ``model`` (left untouched) with
BatchNorm folded into convolutions, residual depth-wise convs merged, attention biases
gathered once, q/k/v projections stacked, features kept channels-last (NHWC) from end to end,
and bias / activation / residual adds fused into oneDNN linear and conv kernels. Its
embeddings match the eager model's within float32 rounding (~1e-5).

Engines:

* ``"fast"``: ``FastTinyBioMoE``, one stream of ops, each split over PyTorch's intra-op
  threads.
* ``"threaded"`` (default): ``ThreadedTinyBioMoE``, the same network run on single-threaded
  workers, one per intra-op thread: a batch is split between them, and a batch of one runs
  its two experts side by side. The faster of the two on a few cores.
* ``"eager"``: the model itself, for comparison.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biomoe.model.fast_efficientvit import FastEfficientViT
from biomoe.model.fast_spectformer import FastSpectFormer
from biomoe.model.fusion import copy_layer_norm
from biomoe.model.kernels import FusedLinear
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.model.workers import SingleThreadedWorkers

Engine = Literal["eager", "fast", "threaded"]
ENGINES: tuple[Engine, ...] = ("eager", "fast", "threaded")


class FastTinyBioMoE(nn.Module):
    """Image ``[B, 3, S, S]`` in ``[0, 1]`` -> embedding ``[B, 192]``, equal to the eager
    ``TinyBioMoE`` in eval mode (to float32 rounding).

    Inference only: weights are frozen buffers, BatchNorm uses its running statistics. Call
    it under ``torch.inference_mode()``.
    """

    def __init__(self, model: TinyBioMoE) -> None:
        super().__init__()
        self.img_size = model.img_size
        self.ln_img = copy_layer_norm(model.ln_img)
        self.enc1 = FastSpectFormer(model.enc1)
        self.enc2 = FastEfficientViT(model.enc2)
        self.ln_e = copy_layer_norm(model.ln_e)
        self.gate = FusedLinear.of(model.fcn[1])
        self.ln_out = copy_layer_norm(model.ln_out)
        self.eval()

    def normalize(self, x: Tensor) -> Tensor:
        """Checked input -> the experts' shared, channels-last input."""
        expected = (3, self.img_size, self.img_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"expected input [B, {', '.join(map(str, expected))}], got {list(x.shape)}"
            )
        return self.ln_img(x).contiguous(memory_format=torch.channels_last)

    def combine(self, z1: Tensor, z2: Tensor) -> Tensor:
        """The two experts' outputs -> the embedding."""
        return self.ln_out(torch.cat([self._gated(z1), self._gated(z2)], dim=1))

    def _gated(self, z: Tensor) -> Tensor:
        return self.ln_e(z) * F.hardtanh(self.gate(F.elu(z)), 0.0, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.normalize(x)
        return self.combine(self.enc1(x), self.enc2(x))


class ThreadedTinyBioMoE(nn.Module):
    """``FastTinyBioMoE`` on ``workers`` single-threaded workers (see ``biomoe.model.workers``).

    A batch of ``B >= 2`` is cut into chunks of ``chunk`` images that the workers take in
    turn (small chunks keep each worker's activations in cache); a single image has its two
    experts run side by side. Each chunk runs on one thread and its result depends only on its
    images, so outputs are bit-identical whatever the number of workers (or machine cores).
    """

    def __init__(self, fast: FastTinyBioMoE, workers: int, chunk: int = 2) -> None:
        super().__init__()
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


def optimize_for_inference(
    model: TinyBioMoE, engine: Engine = "threaded", workers: int | None = None
) -> nn.Module:
    """A module computing ``model``'s embeddings faster, for inference only (see the module
    docstring for the engines). ``model`` is not modified; ``workers`` defaults to
    ``torch.get_num_threads()``. Call the result under ``torch.inference_mode()``.
    """
    if engine == "eager":
        return model
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    fast = FastTinyBioMoE(model)
    if engine == "fast":
        return fast
    return ThreadedTinyBioMoE(fast, workers or torch.get_num_threads())
