"""Errors the pipeline raises on purpose. Bad input names the file, the segment/column and the
rule broken; a transient error (a service unreachable) is one a retry may cure."""

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


class AccessError(BiomoeError, PermissionError):
    """The tracking server refused the pipeline's credentials (401) or its user's permission
    for a request (403); never retried: a retry sends the same credentials."""


class TransientError(BiomoeError, RuntimeError):
    """A service the pipeline needs (the MLflow server, the DVC remote) could not be reached;
    the same work may succeed when retried. The CLI exits with :data:`TRANSIENT_EXIT`."""


class StageTimeout(BiomoeError):
    """A stage ran past its time limit and was stopped; never retried as transient."""


TRANSIENT_EXIT = 75
"""Exit status of a stage that failed on a :class:`TransientError` (sysexits' EX_TEMPFAIL)."""

_UNREACHABLE = (
    "Max retries exceeded",
    "Connection refused",
    "Connection reset",
    "Failed to establish a new connection",
    "RemoteDisconnected",
    "timed out",
)
"""What MLflow's HTTP client (urllib3 under requests) says when a server cannot be reached."""


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` or an exception it was raised from means a service was unreachable:
    a :class:`TransientError`, a refused or timed-out connection, or an MLflow client error
    that wraps one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StageTimeout):
            return False
        if isinstance(current, TransientError | ConnectionError | TimeoutError):
            return True
        named = {cls.__name__ for cls in type(current).__mro__}
        if named & {"MaxRetryError", "NewConnectionError", "ConnectTimeout", "ReadTimeout"}:
            return True
        client_error = named & {"RequestException", "MlflowException"}
        if client_error and any(marker in str(current) for marker in _UNREACHABLE):
            return True
        if current.__cause__ is not None:
            current = current.__cause__
        else:
            current = None if current.__suppress_context__ else current.__context__
    return False
