"""The one engine factory: a Tiny-BioMoE (or its checkpoint) -> the module that embeds with it.

Whatever the engine, the result maps an image batch ``[B, 3, S, S]`` (float, in ``[0, 1]``)
to embeddings ``[B, 192]``; call it under ``torch.inference_mode()``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from biomoe.model.checkpoint import load_checkpoint
from biomoe.model.engines import ENGINES, Engine
from biomoe.model.inference.fast import FastTinyBioMoE
from biomoe.model.inference.threaded import ThreadedTinyBioMoE
from biomoe.model.tiny_biomoe import TinyBioMoE


def build_engine(
    model: TinyBioMoE,
    engine: Engine = "threaded",
    *,
    workers: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> nn.Module:
    """``model`` run by ``engine``: ``"eager"`` is ``model`` itself, put in eval mode;
    ``"fast"`` a ``FastTinyBioMoE`` and ``"threaded"`` a ``ThreadedTinyBioMoE`` on ``workers``
    threads (default ``torch.get_num_threads()``), both frozen copies that leave ``model``
    untouched, whose experts run in ``dtype`` (float32, or bfloat16 for opt-in serving).
    ``ValueError`` for an unknown engine, or a bfloat16 eager engine (that one is autocast:
    ``biomoe.serve.precision``).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if engine == "eager":
        if dtype != torch.float32:
            raise ValueError(f"the eager engine runs the published model in float32, not {dtype}")
        return model.eval()
    fast = FastTinyBioMoE(model, dtype)
    if engine == "fast":
        return fast
    return ThreadedTinyBioMoE(fast, workers or torch.get_num_threads())


def load_engine(checkpoint: Path, engine: Engine, img_size: int) -> nn.Module:
    """``build_engine`` of the published-format ``checkpoint`` loaded as ``TinyBioMoE(img_size)``
    (``load_checkpoint``: ``CheckpointError`` if it is unreadable or does not fit)."""
    return build_engine(load_checkpoint(checkpoint, img_size=img_size), engine)
