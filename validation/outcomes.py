"""GX results back into checks, through the check entries: the structure and row checks with the rows to
quarantine and why, then the quarantine bound and the batch checks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from validation.checks import BY_NAME, CHECKS
from validation.data_check import (
    FAIL,
    KEY_COLUMN,
    MAX_EXAMPLE_IDS,
    QUARANTINE,
    QUARANTINED_COLUMN,
    ROW,
    ROW_COLUMN,
    STRUCTURE,
    WARN,
    DataCheck,
    Row,
    plain,
    rows,
)
from validation.frame import Batch, facts
from validation.report import FAILED, PASSED, QUARANTINED, WARNED, CheckResult, FlaggedRow
from validation.suites import META_KEY


@dataclass
class RowOutcomes:
    """The structure and row checks, the rows to quarantine, and a mask of them over the batch."""

    checks: list[CheckResult]
    flagged: tuple[FlaggedRow, ...]
    quarantine_mask: pd.Series


def row_outcomes(results: list[Any], batch: Batch, released: Mapping[Any, Collection[str]]) -> RowOutcomes:
    """Structure and row checks from the first suite's results; the rows to quarantine and why."""
    grouped = _by_check(results)
    checks = [_judged(c, grouped[c.name], batch) for c in CHECKS if c.kind == STRUCTURE and c.name in grouped]
    ids_usable = batch.has_ids and all(c.success for c in checks if c.name == "unique_ids")
    ids = batch.ids()
    reasons: dict[int, list[tuple[str, str]]] = {}
    lookups = _Lookups(batch)
    for check in CHECKS:
        if check.kind != ROW or check.name not in grouped:
            continue
        name, exp = check.name, batch.exp
        error = next(filter(None, map(_exception_message, grouped[name])), None)
        expectation = grouped[name][0].expectation_config.type
        severity = exp.severity(name)
        if error:
            checks.append(_errored(name, expectation, error, severity))
            continue
        failing: dict[int, Mapping[str, Any]] = {}
        for result in grouped[name]:
            for row in result.result.get("unexpected_index_list") or ():
                failing.setdefault(int(row[ROW_COLUMN]), row)
        positions = sorted(failing)
        # A person released these rows from this check; rows that cannot be trained on are never exempt.
        exempt = set() if check.hard or not released else {
            p for p in positions if name in released.get(plain(ids.iat[p]), ())}
        b = facts(batch, check, first_id=lookups.first_id, labels_by_key=lookups.labels_by_key,
                  stored_labels=batch.stored_labels)
        verb = "has" if len(positions) == 1 else "have"
        detail = f"{len(positions)} of {rows(len(batch.work))} {verb} {check.finds(b)}"
        status = PASSED
        to_quarantine = [p for p in positions if p not in exempt]
        if exempt:
            detail += f"; {len(exempt)} released by a person earlier and not quarantined again"
        if to_quarantine:
            status = {WARN: WARNED, FAIL: FAILED, QUARANTINE: QUARANTINED}[severity]
            if status == QUARANTINED and not ids_usable:
                status = FAILED
                detail += f"; rows cannot be quarantined without unique {exp.id_column} values"
            if status == QUARANTINED:
                for p in to_quarantine:
                    reasons.setdefault(p, []).append((name, check.reason(b, _row(batch, p, failing[p]))))
        shown = (to_quarantine or positions)[:MAX_EXAMPLE_IDS] if batch.has_ids else []
        checks.append(CheckResult(
            name=name, expectation=expectation, success=status != FAILED, failed_rows=len(positions),
            detail=detail, example_ids=tuple(plain(ids.iat[p]) for p in shown), severity=severity, status=status,
        ))
    mask = pd.Series(False, index=batch.work.index)
    if reasons:
        mask[sorted(reasons)] = True
    flagged = tuple(FlaggedRow(row_id=plain(ids.iat[p]), reasons=tuple(reasons[p])) for p in sorted(reasons))
    return RowOutcomes(checks=checks, flagged=flagged, quarantine_mask=mask)


def batch_outcomes(results: list[Any], batch: Batch) -> list[CheckResult]:
    """The quarantine bound and the batch checks from the second suite's results."""
    quarantined = int(batch.work[QUARANTINED_COLUMN].sum())
    return [_judged(BY_NAME[name], found, batch, quarantined=quarantined) for name, found in _by_check(results).items()]


def refused(check: CheckResult) -> CheckResult:
    """A quarantining row check whose rows are too many to quarantine: it refuses the batch."""
    return replace(check, success=False, status=FAILED,
                   detail=check.detail + "; too many rows to quarantine, so the batch is refused")


def _by_check(results: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for result in results:
        grouped.setdefault(result.expectation_config.meta[META_KEY], []).append(result)
    return grouped


def _judged(check: DataCheck, results: list[Any], batch: Batch, **extra: Any) -> CheckResult:
    """A structure, bound or batch check from its GX results: it passes, warns or refuses the batch."""
    expectation = results[0].expectation_config.type
    severity = batch.exp.severity(check.name)
    error = next(filter(None, map(_exception_message, results)), None)
    if error:
        return _errored(check.name, expectation, error, severity)
    found = check.detail(facts(batch, check, **extra), results)
    status = PASSED if all(result.success for result in results) else (WARNED if severity == WARN else FAILED)
    return CheckResult(name=check.name, expectation=expectation, success=status != FAILED,
                       failed_rows=found.failed_rows, detail=found.detail, example_ids=found.example_ids,
                       severity=severity, status=status)


def _row(batch: Batch, position: int, found: Mapping[str, Any]) -> Row:
    """A failing row as its reason sees it."""
    text, label, confidence = (batch.work[column].iat[position] if batch.present(column) else None
                               for column in (batch.exp.text_column, batch.exp.label_column, batch.confidence))
    return Row(text=text, label=label, confidence=confidence, found=found)


class _Lookups:
    """What quarantined rows' reasons name: the earlier row a row repeats, the rows it contradicts."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self._firsts: dict[str, dict[Any, Any]] = {}
        self._labels_by_key: dict[Any, dict[Any, Any]] | None = None

    def first_id(self, column: str, value: Any) -> Any:
        """The id of the first row whose ``column`` holds ``value`` (None when none does)."""
        if column not in self._firsts:
            values = self.batch.work[column]
            first = values.notna() & ~values.duplicated(keep="first")
            self._firsts[column] = dict(zip(values[first], map(plain, self.batch.ids()[first]), strict=True))
        return self._firsts[column].get(value)

    def labels_by_key(self, key: Any) -> dict[Any, Any]:
        """Label -> the first row id carrying it, among the rows whose normalised text is ``key``."""
        if self._labels_by_key is None:
            work, label = self.batch.work, self.batch.exp.label_column
            pairs = work[[KEY_COLUMN, label]].assign(id=self.batch.ids()).dropna(subset=[KEY_COLUMN, label])
            pairs = pairs.drop_duplicates([KEY_COLUMN, label])
            self._labels_by_key = {}
            for found, value, row_id in pairs.itertuples(index=False):
                self._labels_by_key.setdefault(found, {})[value] = plain(row_id)
        return self._labels_by_key.get(key, {})


def _errored(name: str, expectation: str, message: str, severity: str) -> CheckResult:
    # A check GX could not evaluate (e.g. a column of an unexpected type) must
    # block training rather than crash the caller or pass silently.
    return CheckResult(name=name, expectation=expectation, success=False, failed_rows=0,
                       detail=f"check could not run: {message}", severity=severity, status=FAILED)


def _exception_message(result: Any) -> str | None:
    """The error GX caught while evaluating this expectation, if any."""
    info = result.exception_info or {}
    # GX uses a flat dict for expectation-level errors and a dict keyed by
    # metric id for metric-resolution errors.
    candidates = [info] + [v for v in info.values() if isinstance(v, Mapping)]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "unknown error")
    return None
