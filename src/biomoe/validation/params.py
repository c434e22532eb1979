"""The validate section: the rules every window of the windows table must pass."""

from __future__ import annotations

from pydantic import Field, model_validator

from biomoe.section import Section


class ValidateParams(Section):
    """Windows are checked against ``ingest.fs``, these lengths, NaN fraction, flat-line
    threshold and the per-modality value ``ranges``."""

    min_seconds: float = Field(gt=0)
    max_seconds: float = Field(gt=0)
    max_nan_fraction: float = Field(ge=0, le=1)
    flat_line_min_std: float = Field(ge=0)
    ranges: dict[str, tuple[float, float]]
    max_failures_listed: int = Field(ge=1, description="failures listed per rule in the report")

    @model_validator(mode="after")
    def _ordered(self) -> ValidateParams:
        if self.min_seconds > self.max_seconds:
            raise ValueError("validate.min_seconds must not exceed validate.max_seconds")
        for name, (low, high) in self.ranges.items():
            if low > high:
                raise ValueError(f"validate.ranges.{name}: lower bound {low} > upper bound {high}")
        return self
