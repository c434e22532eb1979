"""Tiny-BioMoE: two experts whose gated, normalised embeddings are concatenated."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from biomoe.model.efficientvit import EfficientViTExpert
from biomoe.model.layers import ExpertGate
from biomoe.model.spec import EMBED_DIM, EXPERT_DIM, check_img_size
from biomoe.model.spectformer import SpectFormerExpert


class TinyBioMoE(nn.Module):
    """RGB image ``[B, 3, S, S]`` with values in ``[0, 1]`` -> embedding ``[B, 192]``.

    ``x -> LayerNorm((3, S, S))``, then SpectFormer (``enc1``) and EfficientViT (``enc2``) each
    give a 96-D vector ``z``; each becomes ``ln_e(z) * fcn(z)`` with the shared gate ``fcn``,
    and the concatenation passes ``ln_out``. The state dict has the published key layout, so
    the authors' ``Tiny-BioMoE.pth`` loads with ``strict=True`` at ``img_size=224``.
    """

    def __init__(self, img_size: int = 224) -> None:
        super().__init__()
        self.img_size = check_img_size(img_size)
        self.enc1 = SpectFormerExpert(img_size)
        self.enc2 = EfficientViTExpert(img_size)
        self.ln_img = nn.LayerNorm((3, img_size, img_size))
        self.ln_e = nn.LayerNorm(EXPERT_DIM)
        self.ln_out = nn.LayerNorm(EMBED_DIM)
        self.fcn = ExpertGate(EXPERT_DIM)

    def gated(self, z: Tensor) -> Tensor:
        """One expert's contribution: its normalised output scaled by its gate."""
        return self.ln_e(z) * self.fcn(z)

    def forward(self, x: Tensor) -> Tensor:
        expected = (3, self.img_size, self.img_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"expected input [B, {', '.join(map(str, expected))}], got {list(x.shape)}"
            )
        x = self.ln_img(x)
        z = torch.cat([self.gated(self.enc1(x)), self.gated(self.enc2(x))], dim=1)
        return self.ln_out(z)
