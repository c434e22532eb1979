"""The base of every ``params.yaml`` section model.

A section forbids unknown keys and is frozen; its fields declare no defaults a user could not
see in ``params.yaml``, so a typo or a missing value fails at load time naming the dotted key.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
