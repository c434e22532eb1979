"""Validate the windows table with Great Expectations before anything trains on it."""

from biomoe.validation.report import (
    Failure,
    RuleResult,
    ValidationFailed,
    ValidationReport,
    require_valid,
)
from biomoe.validation.runner import validate_windows

__all__ = [
    "Failure",
    "RuleResult",
    "ValidationFailed",
    "ValidationReport",
    "require_valid",
    "validate_windows",
]
