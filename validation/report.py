"""What validating a batch reports: one ``CheckResult`` per check, the rows to quarantine (``FlaggedRow``),
the whole ``ValidationReport``, and ``DataCheckFailed`` when the batch is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from validation.data_check import FAIL, rows

# What a check did with a batch.
PASSED, QUARANTINED, WARNED, FAILED = "passed", "quarantined", "warned", "failed"


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one data check on a batch.

    ``success`` is False only when the check refuses the batch; a row check that quarantined
    rows, or any check that only warns, has succeeded with ``status`` saying what it did.
    """

    name: str
    expectation: str
    success: bool
    failed_rows: int
    detail: str
    example_ids: tuple = ()
    severity: str = FAIL
    status: str = PASSED


@dataclass(frozen=True)
class FlaggedRow:
    """A row a row check quarantines, with every (check, reason) that flagged it."""

    row_id: Any
    reasons: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ValidationReport:
    """All check outcomes for one batch, and the rows to quarantine when the batch proceeds."""

    row_count: int
    checks: tuple[CheckResult, ...]
    flagged: tuple[FlaggedRow, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (check, why it did not run)
    # The GX validation results as JSON dicts, trimmed for Data Docs; not part of equality.
    gx_results: tuple[dict, ...] = field(default=(), compare=False, repr=False)

    @property
    def success(self) -> bool:
        """True when no check refuses the batch."""
        return all(check.success for check in self.checks)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The checks that refuse the batch, in report order."""
        return tuple(check for check in self.checks if not check.success)

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        """The checks that found something and only warn."""
        return tuple(check for check in self.checks if check.status == WARNED)

    @property
    def quarantined_ids(self) -> tuple:
        """Ids of the rows to quarantine (none when the batch is refused: nothing proceeds)."""
        return tuple(row.row_id for row in self.flagged) if self.success else ()

    @property
    def proceeding_rows(self) -> int:
        """Rows that go on to training when the batch is accepted."""
        return self.row_count - len(self.quarantined_ids)

    def summary(self) -> str:
        """'N checks passed', or one line per failed, quarantining or warning check."""
        notable = [c for c in self.checks if c.status != PASSED]
        if not notable:
            return f"{len(self.checks)} checks passed"
        return "\n".join(_describe(check) for check in notable)

    def as_rows(self) -> list[dict]:
        """One plain dict per check, for a table artifact."""
        return [
            {
                "name": check.name,
                "status": check.status,
                "severity": check.severity,
                "expectation": check.expectation,
                "success": check.success,
                "failed_rows": check.failed_rows,
                "detail": check.detail,
            }
            for check in self.checks
        ]


def _describe(check: CheckResult) -> str:
    line = f"{check.name} ({check.expectation}): {check.detail}"
    if check.status in (QUARANTINED, WARNED):
        line = f"{check.name} ({check.expectation}, {check.status}): {check.detail}"
    if check.example_ids:
        line += "; example ids: " + ", ".join(map(str, check.example_ids))
    return line


class DataCheckFailed(Exception):
    """Raised when a batch fails its data checks.

    str() names each failed check and expectation with its failing row count and example ids,
    and the rows row checks flagged but did not quarantine because the batch was refused.
    """

    report: ValidationReport

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        lines = [
            f"{len(report.failed)} of {len(report.checks)} data checks failed "
            f"on a batch of {rows(report.row_count)}:"
        ]
        for check in report.failed:
            line = (
                f"- {check.expectation} ({check.name}): "
                f"{rows(check.failed_rows)} failing; {check.detail}"
            )
            if check.example_ids:
                line += "; example ids: " + ", ".join(map(str, check.example_ids))
            lines.append(line)
        held = [c for c in report.checks if c.status == QUARANTINED]
        if held:
            lines.append("rows flagged for quarantine (not quarantined: the batch was refused):")
            lines += [f"- {_describe(check)}" for check in held]
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type[DataCheckFailed], tuple[ValidationReport]]:
        # Orchestrators pickle task exceptions; the default reduce would rebuild it
        # from the message string instead of the report.
        return (type(self), (self.report,))


def require_valid(report: ValidationReport) -> ValidationReport:
    """Return the report when no check refuses the batch, else raise DataCheckFailed."""
    if not report.success:
        raise DataCheckFailed(report)
    return report
