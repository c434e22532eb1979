"""Errors for bad input. Each message names the file, the segment/column and the rule broken."""

from __future__ import annotations

from pathlib import Path


class BiomoeError(Exception):
    """Base class for every error the pipeline raises on purpose."""


class DataError(BiomoeError, ValueError):
    """Input data breaks a rule of its contract."""

    def __init__(
        self,
        rule: str,
        *,
        file: str | Path | None = None,
        segment: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.rule = rule
        self.file = str(file) if file is not None else None
        self.segment = segment
        self.hint = hint
        where = ", ".join(
            part
            for part in (
                f"file {self.file}" if self.file else "",
                f"segment/column {segment!r}" if segment else "",
            )
            if part
        )
        message = f"{where}: {rule}" if where else rule
        if hint:
            message = f"{message} ({hint})"
        super().__init__(message)


class CheckpointError(BiomoeError, ValueError):
    """A checkpoint file is missing, corrupt, or does not fit the architecture."""


class DivergenceError(BiomoeError, RuntimeError):
    """Training produced a loss that is not finite; nothing of that step was saved."""
