"""Reusable building blocks of the Tiny-BioMoE experts."""

from biomoe.model.layers.attention import MultiHeadSelfAttention
from biomoe.model.layers.cascaded_attention import (
    CascadedGroupAttention,
    LocalWindowAttention,
    relative_offset_index,
    window_merge,
    window_partition,
)
from biomoe.model.layers.class_attention import ClassAttention, ClassAttentionBlock
from biomoe.model.layers.conv_bn import Conv2dBN, fold_batchnorm
from biomoe.model.layers.gate import ExpertGate
from biomoe.model.layers.mlp import ConvFFN, Mlp, PointwiseFFN, TokenDepthwiseConv
from biomoe.model.layers.patch_embed import ConvDownsample, ConvStem, conv_bn_patch_embed
from biomoe.model.layers.patch_merging import PatchMerging
from biomoe.model.layers.residual import Residual
from biomoe.model.layers.spectral import SpectralGatingFilter
from biomoe.model.layers.squeeze_excite import SqueezeExcite, make_divisible

__all__ = [
    "CascadedGroupAttention",
    "ClassAttention",
    "ClassAttentionBlock",
    "Conv2dBN",
    "ConvDownsample",
    "ConvFFN",
    "ConvStem",
    "ExpertGate",
    "LocalWindowAttention",
    "Mlp",
    "MultiHeadSelfAttention",
    "PatchMerging",
    "PointwiseFFN",
    "Residual",
    "SpectralGatingFilter",
    "SqueezeExcite",
    "TokenDepthwiseConv",
    "conv_bn_patch_embed",
    "fold_batchnorm",
    "make_divisible",
    "relative_offset_index",
    "window_merge",
    "window_partition",
]
