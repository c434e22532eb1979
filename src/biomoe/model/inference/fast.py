"""``FastTinyBioMoE``: Tiny-BioMoE folded for inference (``fold`` of each eager layer).

Its embeddings equal the eager model's in eval mode to float32 rounding (~1e-5). The features
stay NHWC from the input LayerNorm to each expert's pooling; weights are frozen buffers, taken
from the eager model when it is built (the model is not modified).

With ``dtype=torch.bfloat16`` (opt-in serving, ``serve.precision: bf16``) the two experts hold
their weights and activations in bfloat16, and every conv and linear runs on oneDNN's bfloat16
kernels; the input and output LayerNorms, the gate, the FFTs of the spectral gating filters
and the embedding stay float32.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from biomoe.model.efficientvit import EfficientViTExpert
from biomoe.model.inference.fold import ClassHead, fold
from biomoe.model.spectformer import SpectFormerExpert
from biomoe.model.tiny_biomoe import TinyBioMoE


class FastSpectFormer(nn.Module):
    """NHWC image ``[B, S, S, 3]`` -> ``[B, 96]``, equal to ``SpectFormerExpert``."""

    def __init__(self, expert: SpectFormerExpert) -> None:
        super().__init__()
        *inner, (embed, blocks, norm) = expert.stages()
        self.stages = nn.Sequential(
            *(nn.Sequential(fold(e), *map(fold, b), fold(n)) for e, b, n in inner),
            nn.Sequential(fold(embed), *map(fold, blocks)),
        )
        (post,) = expert.post_network
        self.head = ClassHead(post, norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.stages(x))


class FastEfficientViT(nn.Module):
    """NHWC image ``[B, S, S, 3]`` -> ``[B, 96]``, equal to ``EfficientViTExpert``."""

    def __init__(self, expert: EfficientViTExpert) -> None:
        super().__init__()
        self.patch_embed = fold(expert.patch_embed)
        self.stages = nn.Sequential(*map(fold, expert.stages()))

    def forward(self, x: Tensor) -> Tensor:
        return self.stages(self.patch_embed(x)).mean(dim=(1, 2))


def _real_to(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """``module`` with its real floating-point tensors cast to ``dtype``; complex ones (the
    spectral filters) stay as they are, where ``Module.to`` would drop their imaginary part."""
    return module._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)


class FastTinyBioMoE(nn.Module):
    """Image ``[B, 3, S, S]`` in ``[0, 1]`` -> embedding ``[B, 192]``, equal to the eager
    ``TinyBioMoE`` in eval mode (to float32 rounding).

    Inference only: BatchNorm uses its running statistics. Call it under
    ``torch.inference_mode()``; with autograd on it runs plain PyTorch ops (as on GPU).
    """

    def __init__(self, model: TinyBioMoE, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"dtype must be torch.float32 or torch.bfloat16, got {dtype}")
        self.img_size = model.img_size
        self.dtype = dtype
        self.ln_img = fold(model.ln_img)
        self.enc1 = _real_to(FastSpectFormer(model.enc1), dtype)
        self.enc2 = _real_to(FastEfficientViT(model.enc2), dtype)
        self.ln_e = fold(model.ln_e)
        self.fcn = fold(model.fcn)
        self.ln_out = fold(model.ln_out)
        self.eval()

    def normalize(self, x: Tensor) -> Tensor:
        """Checked input -> the experts' shared NHWC input."""
        expected = (3, self.img_size, self.img_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"expected input [B, {', '.join(map(str, expected))}], got {list(x.shape)}"
            )
        return self.ln_img(x).permute(0, 2, 3, 1).to(self.dtype).contiguous()

    def combine(self, z1: Tensor, z2: Tensor) -> Tensor:
        """The two experts' outputs -> the embedding (float32)."""
        return self.ln_out(torch.cat([self._gated(z1.float()), self._gated(z2.float())], dim=1))

    def _gated(self, z: Tensor) -> Tensor:
        return self.ln_e(z) * self.fcn(z)

    def forward(self, x: Tensor) -> Tensor:
        x = self.normalize(x)
        return self.combine(self.enc1(x), self.enc2(x))
