"""What validation found, as readable sentences and as a deterministic ``summary.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from biomoe.errors import BiomoeError
from biomoe.io import write_json

Status = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class Failure:
    """One window (or, with no window, the whole table) that breaks a rule."""

    rule: str
    text: str
    observed: str
    window_id: str | None = None
    source_file: str | None = None
    segment: str | None = None
    modality: str | None = None

    def message(self, table: str) -> str:
        """``file <csv>, segment '<name>': <rule text> (observed ...)``."""
        where = f"file {self.source_file or table}"
        if self.segment is not None:
            where += f", segment {self.segment!r}"
        return f"{where}: {self.text} (observed {self.observed})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "modality": self.modality,
            "observed": self.observed,
            "rule": self.text,
            "segment": self.segment,
            "source_file": self.source_file,
            "window_id": self.window_id,
        }


@dataclass(frozen=True)
class RuleResult:
    """Outcome of one rule; ``failures`` lists at most ``validate.max_failures_listed``."""

    name: str
    text: str
    status: Status
    n_failed: int
    failures: tuple[Failure, ...]
    skipped_because: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "failures": [f.to_dict() for f in self.failures],
            "n_failed": self.n_failed,
            "rule": self.text,
            "skipped_because": self.skipped_because,
            "status": self.status,
            "success": None if self.status == "skipped" else self.status == "passed",
        }


@dataclass(frozen=True)
class ValidationReport:
    """``windows_file`` is the path as given (for messages); the summary records only its name
    and content hash, so the same table gives the same ``summary.json`` in any checkout."""

    windows_file: str
    windows_sha256: str
    n_windows: int
    rules: tuple[RuleResult, ...]
    data_docs: str | None = None
    report_dir: str | None = None

    @property
    def success(self) -> bool:
        return all(r.status != "failed" for r in self.rules)

    @property
    def failures(self) -> tuple[Failure, ...]:
        """The listed failures of every rule, in rule order."""
        return tuple(f for r in self.rules for f in r.failures)

    @property
    def failed_rules(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules if r.status == "failed")

    def format(self) -> str:
        """A multi-line message: the verdict, then each failure as file, segment and rule."""
        failed = [r for r in self.rules if r.status == "failed"]
        if not failed:
            return (
                f"{self.windows_file}: all {len(self.rules)} validation rules passed "
                f"({self.n_windows} windows)"
            )
        lines = [
            f"{self.windows_file}: {len(failed)} of {len(self.rules)} validation rules failed "
            f"({self.n_windows} windows)"
        ]
        for rule in failed:
            lines.append(f"[{rule.name}] {rule.n_failed} failing:")
            lines.extend(f"  {f.message(self.windows_file)}" for f in rule.failures)
            if rule.n_failed > len(rule.failures):
                lines.append(f"  ... and {rule.n_failed - len(rule.failures)} more")
        skipped = [r.name for r in self.rules if r.status == "skipped"]
        if skipped:
            lines.append(f"not checked until the schema is fixed: {', '.join(skipped)}")
        if self.data_docs:
            docs = Path(self.report_dir or ".") / self.data_docs
            lines.append(f"details: {docs} (Great Expectations data docs)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "data_docs": self.data_docs,
            "n_windows": self.n_windows,
            "rules": {r.name: r.to_dict() for r in self.rules},
            "success": self.success,
            "windows_file": Path(self.windows_file).name,
            "windows_sha256": self.windows_sha256,
        }


class ValidationFailed(BiomoeError):
    """The windows table breaks at least one validation rule; ``report`` says which."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.format())


def require_valid(report: ValidationReport) -> ValidationReport:
    """Return ``report`` if every rule passed, else raise :class:`ValidationFailed`."""
    if not report.success:
        raise ValidationFailed(report)
    return report


def write_summary(report: ValidationReport, path: Path) -> None:
    """Write ``report`` as sorted-key JSON, atomically."""
    write_json(path, report.to_dict())
