"""The embed section's engine and batch size (where the backbone comes from is the registry's)."""

from __future__ import annotations

from pydantic import Field

from biomoe.model.engines import Engine
from biomoe.section import Section


class EmbedParams(Section):
    """``engine``: ``threaded`` and ``fast`` run the optimised inference copy of the backbone
    (``biomoe.model.inference``, equal to eager within 1e-4); ``eager`` the model as published.
    Embeddings are computed in batches of ``batch_size`` per image shard, so they do not depend
    on the runner or its number of workers."""

    batch_size: int = Field(ge=1)
    engine: Engine
