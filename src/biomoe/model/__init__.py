"""Tiny-BioMoE in plain PyTorch, and checkpoint I/O in the published format."""

from biomoe.model.checkpoint import file_sha256, load_checkpoint, save_checkpoint
from biomoe.model.efficientvit import EfficientViTExpert
from biomoe.model.spectformer import SpectFormerExpert
from biomoe.model.tiny_biomoe import EMBED_DIM, EXPERT_DIM, TinyBioMoE, check_img_size

__all__ = [
    "EMBED_DIM",
    "EXPERT_DIM",
    "EfficientViTExpert",
    "SpectFormerExpert",
    "TinyBioMoE",
    "check_img_size",
    "file_sha256",
    "load_checkpoint",
    "save_checkpoint",
]
