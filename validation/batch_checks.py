"""Data checks a batch of newly labeled rows must pass before it is trained on.

Three kinds of check, each run as Great Expectations (GX Core 1.x) expectations on an in-memory
pandas batch:

- **structure** (missing columns, wrong column types, duplicate ids): the batch cannot be
  judged row by row, so it is refused;
- **row checks** (null or blank text, unknown label, length, encoding garbage, control characters,
  duplicates inside the batch and against stored rows, conflicting labels, leakage into the
  held-out set, low annotator confidence): by default the failing rows are *quarantined* and the
  rest of the batch proceeds, as long as the quarantined share stays within
  ``max_quarantine_share``; a check can instead warn, refuse the batch, or be off;
- **batch checks** on the rows that proceed (at least ``min_new_rows``, label drift against the
  champion's data, class imbalance): they refuse the batch or warn, by severity.

The row checks run in one GX validation; the batch checks in a second one, on the same frame
with a ``quarantined`` column, so that GX also records the quarantined share. Nothing here reads
or writes a database: the caller passes the stored rows to compare with (``ReferenceData``) and
writes the quarantine (``validation.gate``).

GX is imported lazily: importing it costs seconds, and most importers of this module (flow
definitions, CLI, tests of other modules) never validate anything.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

# Runs may have no network; GX must never try to reach its analytics backend.
# Set at import (not just before importing GX) so it also holds when some other
# module imports GX first.
os.environ["GX_ANALYTICS_ENABLED"] = "false"

__all__ = [
    "BATCH_CHECKS",
    "CHECK_ORDER",
    "ROW_CHECKS",
    "BatchExpectations",
    "CheckResult",
    "DataCheckFailed",
    "FlaggedRow",
    "ReferenceData",
    "ValidationReport",
    "require_valid",
    "validate_batch",
]

QUARANTINE, WARN, FAIL, OFF = "quarantine", "warn", "fail", "off"
PASSED, QUARANTINED, WARNED, FAILED = "passed", "quarantined", "warned", "failed"

_MAX_EXAMPLE_IDS = 5
_DOCS_VALUE_CHARS = 200  # longest value a Data Docs page shows (a batch may hold a 1 MB text)

STRUCTURE_CHECKS = ("required_columns", "column_types", "unique_ids")
ROW_CHECKS = (
    "text_not_null",
    "text_not_blank",
    "label_not_null",
    "label_in_label_set",
    "text_length",
    "length_outlier",
    "encoding_garbage",
    "control_characters",
    "duplicate_text",
    "near_duplicate_text",
    "conflicting_labels",
    "duplicate_of_stored",
    "test_set_leakage",
    "low_confidence",
)
BATCH_CHECKS = ("min_new_rows", "label_drift", "class_imbalance")
SHARE_CHECK = "quarantine_share"
# Report order; also the set of names a caller can rely on.
CHECK_ORDER = (*STRUCTURE_CHECKS, *ROW_CHECKS, *BATCH_CHECKS, SHARE_CHECK)
# Rows failing these cannot be trained on at all (fine-tuning needs a text and a known label), so
# they never proceed: a person's release does not exempt a row from them, and they cannot be
# turned into warnings or off.
HARD_CHECKS = ("text_not_null", "text_not_blank", "label_not_null", "label_in_label_set")
# Severities a deployment may choose per check; structure and the share bound always refuse.
ALLOWED_SEVERITIES = {
    **{name: (QUARANTINE, FAIL) if name in HARD_CHECKS else (QUARANTINE, WARN, FAIL, OFF) for name in ROW_CHECKS},
    **{name: (FAIL, WARN, OFF) for name in BATCH_CHECKS},
}
DEFAULT_SEVERITIES = {**{name: QUARANTINE for name in ROW_CHECKS}, **{name: FAIL for name in BATCH_CHECKS}}

@dataclass(frozen=True)
class BatchExpectations:
    """What a batch of newly labeled rows must satisfy before it may be trained on."""

    labels: tuple[str, ...]
    min_new_rows: int = 1
    min_text_chars: int = 1
    max_text_chars: int = 100_000  # Settings.max_text_chars
    id_column: str = "id"
    text_column: str = "text"
    label_column: str = "label"
    confidence_column: str | None = "confidence"  # checked only when the batch has it
    min_confidence: float = 0.35
    max_garbage_share: float = 0.2
    max_control_share: float = 0.0
    length_outlier_factor: float = 10.0
    max_label_kl: float = 0.1
    min_class_share: float = 0.0
    max_class_share: float = 0.9
    max_quarantine_share: float = 0.05
    # Per-check severity overrides, e.g. {"label_drift": "warn"}; stored as sorted pairs.
    severities: Mapping[str, str] | tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Accept any iterable of labels and any mapping of severities but store tuples:
        # the object must stay hashable and picklable.
        object.__setattr__(self, "labels", tuple(self.labels))
        pairs = self.severities.items() if isinstance(self.severities, Mapping) else self.severities
        object.__setattr__(self, "severities", tuple(sorted((str(k), str(v)) for k, v in pairs)))
        if not self.labels:
            raise ValueError("labels must not be empty")
        if self.min_new_rows < 0:
            raise ValueError(f"min_new_rows must be >= 0, got {self.min_new_rows}")
        if not 0 <= self.min_text_chars <= self.max_text_chars:
            raise ValueError(
                "need 0 <= min_text_chars <= max_text_chars, got "
                f"{self.min_text_chars} and {self.max_text_chars}"
            )
        columns = (self.id_column, self.text_column, self.label_column)
        if len(set(columns)) != len(columns) or self.confidence_column in columns:
            raise ValueError(f"id, text, label and confidence columns must differ, got "
                             f"{(*columns, self.confidence_column)}")
        for name in ("min_confidence", "max_garbage_share", "max_control_share", "min_class_share",
                     "max_class_share", "max_quarantine_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        if self.min_class_share > self.max_class_share:
            raise ValueError(f"min_class_share {self.min_class_share} exceeds max_class_share {self.max_class_share}")
        if self.length_outlier_factor <= 0 or self.max_label_kl < 0:
            raise ValueError("length_outlier_factor must be > 0 and max_label_kl >= 0")
        for name, severity in self.severities:
            if name not in ALLOWED_SEVERITIES:
                raise ValueError(f"no data check named {name!r} to set a severity for; "
                                 f"checks: {', '.join(ALLOWED_SEVERITIES)}")
            if severity not in ALLOWED_SEVERITIES[name]:
                raise ValueError(f"severity of {name} must be one of {ALLOWED_SEVERITIES[name]}, got {severity!r}")

    @property
    def required_columns(self) -> tuple[str, str, str]:
        """The columns every batch must have, in report order."""
        return (self.id_column, self.text_column, self.label_column)

    def severity(self, check: str) -> str:
        """The severity of a check: its override, else its default (structure checks always fail)."""
        return dict(self.severities).get(check, DEFAULT_SEVERITIES.get(check, FAIL))


@dataclass(frozen=True, eq=False)
class ReferenceData:
    """Rows already stored that a batch is compared with: the champion's data up to its watermark.

    ``rows`` has columns id, text, label and split ('train' or 'test'); quarantined rows and the
    batch's own rows are left out by whoever builds it.
    """

    rows: pd.DataFrame

    def __post_init__(self) -> None:
        missing = {"id", "text", "label", "split"} - set(self.rows.columns)
        if missing:
            raise ValueError(f"reference rows lack column(s) {sorted(missing)}")

    @cached_property
    def keyed(self) -> pd.DataFrame:
        """One row per (normalised text, label, split), with the first stored id: what a batch row can match."""
        from validation.text import normalize_text

        rows = self.rows[self.rows["text"].notna()]
        keyed = rows[["id", "label", "split"]].assign(key=rows["text"].astype(str).map(normalize_text))
        return keyed.drop_duplicates(["key", "label", "split"]).reset_index(drop=True)

    @cached_property
    def label_counts(self) -> dict[str, int]:
        """How many stored rows carry each label."""
        return {str(k): int(v) for k, v in self.rows["label"].value_counts().items()}

    @cached_property
    def median_length(self) -> float | None:
        """Median text length in characters (None without rows)."""
        lengths = self.rows["text"].dropna().astype(str).str.len()
        return float(lengths.median()) if len(lengths) else None


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
            f"on a batch of {_rows(report.row_count)}:"
        ]
        for check in report.failed:
            line = (
                f"- {check.expectation} ({check.name}): "
                f"{_rows(check.failed_rows)} failing; {check.detail}"
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


def validate_batch(
    frame: pd.DataFrame,
    expectations: BatchExpectations,
    reference: ReferenceData | None = None,
    released: Mapping[Any, Collection[str]] | None = None,
) -> ValidationReport:
    """Run every data check on the frame and decide which rows to quarantine.

    ``reference``: the stored rows to look for duplicates, conflicting labels and held-out
    leakage in, and to measure label drift and length outliers against (None before the
    first champion: those checks are skipped or use the batch itself). ``released``: row id
    -> checks a person released the row from; those checks do not quarantine it again.
    Never raises for bad data (missing columns, wrong types, an empty frame): that is reported.
    """
    from validation import suite

    batch = suite.prepare(frame, expectations, reference)
    with _GX_LOCK:
        # The cached batch definition and its execution engine hold one batch at a
        # time, so concurrent validations (threaded task runners) must not interleave.
        runtime = _gx_runtime()
        row_results = _run(runtime, suite.row_suite(runtime.gx, batch), batch, complete=True)
        rows = suite.row_outcomes(row_results.results, batch, released or {})
        batch.work[suite.QUARANTINED_COLUMN] = rows.quarantine_mask
        batch_results = _run(runtime, suite.batch_suite(runtime.gx, batch), batch, complete=False)
    checks = [*rows.checks, *suite.batch_outcomes(batch_results.results, batch)]
    if any(check.name == SHARE_CHECK and not check.success for check in checks):
        # Too many rows to quarantine: those rows are why the batch is refused.
        checks = [suite.refused(check) if check.status == QUARANTINED else check for check in checks]
    order = {name: i for i, name in enumerate(CHECK_ORDER)}
    checks.sort(key=lambda check: order[check.name])
    return ValidationReport(
        row_count=len(frame), checks=tuple(checks), flagged=rows.flagged,
        skipped=tuple(sorted(batch.skipped.items(), key=lambda item: order[item[0]])),
        gx_results=(_for_docs(row_results), _for_docs(batch_results)),
    )


class _GxRuntime(NamedTuple):
    gx: Any
    batch_definition: Any


_GX_LOCK = threading.RLock()
_RUNTIME: _GxRuntime | None = None


def _gx_runtime() -> _GxRuntime:
    """Build the ephemeral GX context once per process; callers hold _GX_LOCK."""
    global _RUNTIME
    if _RUNTIME is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )
        from great_expectations.execution_engine import pandas_execution_engine

        from validation import expectations

        expectations.load()  # register the custom expectations with GX
        # GX fingerprints every in-memory batch (a hash of all its values, twice per validation) only
        # to record it in the result's metadata; on a big batch that costs as much as the checks.
        pandas_execution_engine.HASH_THRESHOLD = 0
        config = DataContextConfig(
            # No temp data-docs site: validation/docs.py keeps the site under the project's home.
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            # tqdm bars on stderr would flood flow logs on every validation.
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        asset = context.data_sources.add_pandas("retrain_batches").add_dataframe_asset("batch")
        # The frame is passed per call as a batch parameter, so one definition
        # serves every validation without re-registering anything.
        batch_definition = asset.add_batch_definition_whole_dataframe("whole_batch")
        _RUNTIME = _GxRuntime(gx=gx, batch_definition=batch_definition)
    return _RUNTIME


def _run(runtime: _GxRuntime, expectation_suite: Any, batch: Any, complete: bool) -> Any:
    """Validate the prepared frame against a suite; ``complete`` returns every failing row, not a sample."""
    from validation import suite

    result_format: dict[str, Any] = {
        # SUMMARY keeps only partial lists, so big bad batches stay cheap where ids are not needed.
        "result_format": "COMPLETE" if complete else "SUMMARY",
        "partial_unexpected_count": _MAX_EXAMPLE_IDS,
        "unexpected_index_column_names": suite.index_columns(batch),
    }
    gx_batch = runtime.batch_definition.get_batch(batch_parameters={"dataframe": batch.work})
    return gx_batch.validate(expectation_suite, result_format=result_format)


def _for_docs(suite_result: Any) -> dict:
    """The validation result as JSON, without the full failing-row lists and with long values cut."""
    for result in suite_result.results:
        for key in ("unexpected_list", "unexpected_index_list", "unexpected_index_query"):
            result.result.pop(key, None)
    as_json = suite_result.to_json_dict()
    for result in as_json.get("results", ()):
        details = result.get("result") or {}
        for key in ("partial_unexpected_list", "partial_unexpected_index_list", "partial_unexpected_counts"):
            if key in details:
                details[key] = _shorten(details[key])
    return as_json


def _shorten(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= _DOCS_VALUE_CHARS else value[:_DOCS_VALUE_CHARS] + f"... ({len(value)} chars)"
    if isinstance(value, list | tuple):
        return [_shorten(item) for item in value]
    if isinstance(value, dict):
        return {key: _shorten(item) for key, item in value.items()}
    return value


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"
