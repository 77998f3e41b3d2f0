"""The data-check step as a plain function: validate a pulled batch against the stored rows and
quarantine the rows that fail row-level checks, or leave everything as it is when the batch is refused.

``tasks/checks.py`` wraps these in Prefect tasks; tests and benchmarks call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa

from data.pull import LabeledBatch
from data.reference import consumed_summary, matching_rows
from data.settings import Settings
from validation import quarantine
from validation.batch_checks import validate_batch
from validation.batch_expectations import BatchExpectations, ReferenceData
from validation.checks import CHECKS
from validation.report import ValidationReport


@dataclass(frozen=True)
class CheckedBatch:
    """A validated batch: the report, and the rows that proceed (all of them when the batch is refused)."""

    report: ValidationReport
    batch: LabeledBatch
    quarantined: int  # rows quarantined by this check (0 when refused: nothing is written then)


def expectations_for(settings: Settings) -> BatchExpectations:
    """The batch expectations the settings ask for: every threshold a check declares, by its setting's name."""
    return BatchExpectations(
        labels=tuple(settings.labels),
        # The pull names the mapped confidence column "confidence" (absent when unmapped).
        confidence_column="confidence" if settings.confidence_column else None,
        severities=settings.check_severity,
        **{name: getattr(settings, name) for check in CHECKS for name in check.thresholds},
    )


def reference_for(engine: sa.Engine, settings: Settings, batch: LabeledBatch, write: bool = True
                  ) -> ReferenceData | None:
    """The stored rows a batch is compared with: of the champion's data (every row its lineage trained on or
    held out; never the batch, which waits by definition), the rows that share a normalised text with the
    batch, and the label counts and median length of all of it. None before the first champion.

    Reads the texts of those rows and of the rows consumed since the last check (keyed now, and stored
    unless ``write`` is false), not every consumed row: ``data.reference``."""
    if not batch.lineage.versions:
        return None
    texts = batch.frame["text"].dropna().astype(str)
    rows = matching_rows(engine, settings, batch.lineage, texts, write=write)
    return ReferenceData(rows[["id", "text", "label", "split"]].reset_index(drop=True),
                         consumed_summary(engine, settings, batch.lineage))


def check_batch(
    engine: sa.Engine, settings: Settings, batch: LabeledBatch, flow_run: str | None = None,
    expectations: BatchExpectations | None = None, write: bool = True,
) -> CheckedBatch:
    """Validate a pulled batch; when it is accepted, quarantine the rows row checks flagged (one
    transaction) and return the rest. A refused batch writes nothing; so does ``write=False`` (a dry
    run), which leaves the flagged rows out of the batch all the same."""
    expectations = expectations or expectations_for(settings)
    released = quarantine.released_checks(engine, settings, batch.frame["id"].tolist())
    report = validate_batch(batch.frame, expectations, reference_for(engine, settings, batch, write), released)
    if not report.success:
        return CheckedBatch(report=report, batch=batch, quarantined=0)
    held = set(report.quarantined_ids)
    quarantined = quarantine.quarantine_rows(engine, settings, report.flagged, flow_run) if held and write else 0
    proceeding = replace(batch, frame=batch.frame[~batch.frame["id"].isin(held)].reset_index(drop=True))
    return CheckedBatch(report=report, batch=proceeding, quarantined=quarantined)
