"""The serve section: how the registered pain classifier runs where a deployment team serves it.

Stored with the model (``serving.json``), so a served version keeps the settings it was
registered with whatever params.yaml says later.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from biomoe.model.engines import Engine
from biomoe.section import Section

Precision = Literal["fp32", "bf16", "int8"]


class ServeParams(Section):
    """``engine`` embeds the served windows (``threaded``/``fast``: the pipeline's optimised
    copy of the backbone; ``eager``: the model as published). ``precision``: ``fp32``, or the
    opt-in reduced-precision engines ``bf16`` (CPUs with AVX-512 BF16 or AMX; the engine's own
    network in bfloat16) and ``int8`` (the eager model's linear layers in int8, CPUs with VNNI;
    ``engine: eager`` only); refused at load on a CPU without them.
    A request of more than ``max_rows`` rows is refused before any work is done; rows are
    imaged and embedded ``batch_rows`` at a time, which bounds the memory a request takes."""

    engine: Engine
    precision: Precision
    max_rows: int = Field(ge=1)
    batch_rows: int = Field(ge=1)

    @model_validator(mode="after")
    def _int8_is_eager(self) -> ServeParams:
        if self.precision == "int8" and self.engine != "eager":
            raise ValueError(
                f"serve.precision int8 quantises the eager model's linear layers; set "
                f"serve.engine: eager (got {self.engine})"
            )
        return self
