"""Frozen linear and conv layers with fused epilogues, for inference.

On CPU, in float32 or bfloat16 (the weights' dtype, which the input must share), they call
oneDNN's fused kernels (``torch.ops.mkldnn._linear_pointwise`` and ``_convolution_pointwise``,
the ones ``torch.compile`` emits): bias, activation and a residual add are applied while the
output is still in cache, which makes the memory-bound layers of Tiny-BioMoE up to 1.5x faster
(bfloat16: AVX-512 BF16 or AMX dot products, about 2x fewer cycles again). Anywhere else (GPU,
autograd, a build without oneDNN, tracing by ``torch.compile``, bfloat16 where oneDNN may not
use its bfloat16 kernels, e.g. under reproducible numerics' ``ONEDNN_MAX_CPU_ISA=AVX2``) they
fall back to the same computation in plain PyTorch.
"""

from __future__ import annotations

import functools
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Activation = Literal["none", "relu", "gelu"]

_ALGORITHM: dict[str, str | None] = {"none": None, "relu": None, "gelu": "none"}


@functools.cache
def onednn_bfloat16() -> bool:
    """Whether oneDNN runs bfloat16 kernels in this process (the CPU has them and no
    ``ONEDNN_MAX_CPU_ISA`` below AVX-512 holds it back)."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def _onednn_ready(x: Tensor) -> bool:
    """Eager CPU float32 or bfloat16 inference; under ``torch.compile`` the plain ops are
    traced instead, so the compiler sees (and fuses) ordinary linears and convolutions."""
    return (
        not torch.compiler.is_compiling()
        and torch.backends.mkldnn.is_available()
        and x.device.type == "cpu"
        and (x.dtype == torch.float32 or (x.dtype == torch.bfloat16 and onednn_bfloat16()))
        and not (torch.is_grad_enabled() and x.requires_grad)
    )


def _activate(x: Tensor, activation: Activation) -> Tensor:
    if activation == "relu":
        return F.relu(x)
    if activation == "gelu":
        return F.gelu(x)
    return x


def _pair(value: int | tuple[int, int]) -> list[int]:
    return [value, value] if isinstance(value, int) else list(value)


def _frozen(tensor: Tensor) -> Tensor:
    return tensor.detach().clone().float()


class _PackedWeight(nn.Module):
    """Keeps ``weight`` also in oneDNN's blocked layout, made on the first oneDNN call (a
    plain weight would be reordered on every call). The packed copy is dropped whenever the
    weights may change (``.to()``, ``load_state_dict``) and is never pickled or copied.
    ``.to(torch.bfloat16)`` makes a bfloat16 layer (weights, bias and the packed copy)."""

    _packed: Tensor | None = None

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        self._packed = None
        return super()._apply(fn, recurse)

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self._packed = None
        super()._load_from_state_dict(*args, **kwargs)

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_packed"] = None
        return state


class FusedLinear(_PackedWeight):
    """``activation(x @ weight.T + bias)``, or ``x @ weight.T + bias + residual``."""

    def __init__(self, weight: Tensor, bias: Tensor | None, activation: Activation = "none"):
        super().__init__()
        self.activation = activation
        self.register_buffer("weight", _frozen(weight))
        self.register_buffer("bias", None if bias is None else _frozen(bias))

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        if residual is not None and self.activation != "none":
            raise ValueError("a residual add is fused only into a linear without activation")
        if _onednn_ready(x):
            if self._packed is None:
                self._packed = torch.ops.mkldnn._reorder_linear_weight(self.weight, None)
            if residual is not None:
                return torch.ops.mkldnn._linear_pointwise.binary(
                    x, residual, self._packed, self.bias, "add"
                )
            return torch.ops.mkldnn._linear_pointwise(
                x, self._packed, self.bias, self.activation, [], _ALGORITHM[self.activation]
            )
        y = _activate(F.linear(x, self.weight, self.bias), self.activation)
        return y if residual is None else y + residual

    @classmethod
    def of(cls, linear: nn.Linear | nn.Conv2d, activation: Activation = "none") -> FusedLinear:
        """A copy of ``linear`` (or of a 1x1 conv, as a linear over channels)."""
        return cls(linear.weight.flatten(1), linear.bias, activation)


class FusedConv2d(_PackedWeight):
    """``activation(conv2d(x, weight, bias))`` with a channels-last weight (the layout oneDNN
    wants for channels-last inputs; a contiguous one would be reordered on every call)."""

    def __init__(
        self,
        weight: Tensor,
        bias: Tensor | None,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        groups: int = 1,
        activation: Activation = "none",
    ) -> None:
        super().__init__()
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.groups = groups
        self.activation = activation
        weight = _frozen(weight).contiguous(memory_format=torch.channels_last)
        self.register_buffer("weight", weight)
        self.register_buffer("bias", None if bias is None else _frozen(bias))

    def forward(self, x: Tensor) -> Tensor:
        if _onednn_ready(x):
            if self._packed is None:
                self._packed = torch._C._nn.mkldnn_reorder_conv2d_weight(
                    self.weight.to_mkldnn(),
                    self.padding,
                    self.stride,
                    [1, 1],
                    self.groups,
                    list(x.shape),
                )
            return torch.ops.mkldnn._convolution_pointwise(
                x,
                self._packed,
                self.bias,
                self.padding,
                self.stride,
                [1, 1],
                self.groups,
                self.activation,
                [],
                _ALGORITHM[self.activation],
            )
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, 1, self.groups)
        return _activate(y, self.activation)

    @classmethod
    def of(
        cls,
        conv: nn.Conv2d,
        weight: Tensor | None = None,
        bias: Tensor | None = None,
        activation: Activation = "none",
    ) -> FusedConv2d:
        """``conv``'s geometry with ``weight``/``bias`` (default: a copy of its own)."""
        if weight is None:
            weight, bias = conv.weight, conv.bias
        return cls(weight, bias, conv.stride, conv.padding, conv.groups, activation)

    def nhwc(self, x: Tensor) -> Tensor:
        """Apply to an NHWC tensor ``[B, H, W, C]``; the result is NHWC too."""
        return self(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
