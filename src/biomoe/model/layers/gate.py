"""Per-feature expert gate of Tiny-BioMoE."""

from __future__ import annotations

from torch import nn


class ExpertGate(nn.Sequential):
    """``ELU -> Linear(dim, dim) -> Hardtanh(0, 1)``: a gate in ``[0, 1]`` per feature.

    A ``Sequential`` so its keys are the published ``1.weight`` / ``1.bias``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__(nn.ELU(), nn.Linear(dim, dim), nn.Hardtanh(0.0, 1.0))
