"""The two GX suites ``validate_batch`` runs, built from the check entries (``validation.checks``): the
structure and row checks on every row, then the quarantine bound and the batch checks on the rows that proceed.
"""

from __future__ import annotations

from typing import Any

from validation import expectations as custom
from validation.checks import CHECKS
from validation.data_check import (
    BATCH,
    BOUND,
    FAIL,
    LABEL,
    QUARANTINE,
    QUARANTINED_COLUMN,
    ROW,
    STRUCTURE,
    WARN,
    DataCheck,
)
from validation.frame import Batch, facts

# The GX meta key that ties each expectation result back to its check, since
# GX does not return results in suite order.
META_KEY = "retrain_check"

_DOING = {QUARANTINE: "quarantines failing rows", WARN: "warns", FAIL: "refuses the batch"}


def row_suite(gx: Any, batch: Batch) -> Any:
    """Structure and row checks, on every row of the batch."""
    return _suite(gx, "retrain_row_checks", batch, [c for kind in (STRUCTURE, ROW) for c in CHECKS if c.kind == kind])


def batch_suite(gx: Any, batch: Batch) -> Any:
    """The quarantine bound on every row; the batch checks on the rows that proceed."""
    from great_expectations.expectations.row_conditions import Column  # GX costs seconds to import

    if bool(batch.work[QUARANTINED_COLUMN].all()):  # an empty batch too: min_new_rows speaks for it
        for check in CHECKS:
            if check.kind == BATCH and LABEL in check.columns:  # they judge the label shares
                batch.skipped.setdefault(check.name, "no rows proceed: no label shares to judge")
    proceeding = Column(QUARANTINED_COLUMN) == False  # noqa: E712 - a GX row condition, not a comparison
    chosen = [c for kind in (BOUND, BATCH) for c in CHECKS if c.kind == kind]
    return _suite(gx, "retrain_batch_checks", batch, chosen, proceeding=proceeding)


def _suite(gx: Any, name: str, batch: Batch, checks: list[DataCheck], **extra: Any) -> Any:
    """A suite of the expectations every check that runs builds on this batch, tagged with the check's name."""
    import great_expectations.expectations as gxe  # GX costs seconds to import

    ours = custom.load()
    items = []
    for check in checks:
        if not batch.runs(check.name):
            continue
        severity = batch.exp.severity(check.name)
        for spec in check.expect(facts(batch, check, **extra)):
            expectation = getattr(ours, spec.type, None) or getattr(gxe, spec.type)
            items.append(expectation(**spec.kwargs, meta={META_KEY: check.name},
                                     description=_description(check.name, severity, spec.about)))
    # Never added to the context: it is rebuilt from code, so there is nothing to store.
    return gx.ExpectationSuite(name=name, expectations=items)


def _description(check: str, severity: str, about: str) -> str:
    """What a Data Docs page shows for an expectation: the check it belongs to, what it does, and why."""
    return f"**{check}** ({_DOING[severity]}): {about}"
