"""Data checks a batch of newly labeled rows must pass before it is trained on.

The checks run as one Great Expectations (GX Core 1.x) ExpectationSuite on an
in-memory pandas batch. GX is imported lazily: importing it costs seconds, and
most importers of this module (flow definitions, CLI, tests of other modules)
never validate anything.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

# Runs may have no network; GX must never try to reach its analytics backend.
# Set at import (not just before importing GX) so it also holds when some other
# module imports GX first.
os.environ["GX_ANALYTICS_ENABLED"] = "false"

__all__ = [
    "BatchExpectations",
    "CheckResult",
    "DataCheckFailed",
    "ValidationReport",
    "require_valid",
    "validate_batch",
]

_MAX_EXAMPLE_IDS = 5

# Report order; also the set of names a caller can rely on.
_CHECK_ORDER = (
    "required_columns",
    "text_not_null",
    "text_not_blank",
    "label_not_null",
    "label_in_label_set",
    "text_length",
    "min_new_rows",
    "no_duplicate_texts",
)
_TEXT_CHECKS = ("text_not_null", "text_not_blank", "text_length", "no_duplicate_texts")
_LABEL_CHECKS = ("label_not_null", "label_in_label_set")

# The GX meta key that ties each expectation result back to its check, since
# GX does not return results in suite order.
_META_KEY = "retrain_check"


@dataclass(frozen=True)
class BatchExpectations:
    """What a batch of newly labeled rows must satisfy before it may be trained on."""

    labels: tuple[str, ...]
    min_new_rows: int = 1
    min_text_chars: int = 1
    max_text_chars: int = 5000
    id_column: str = "id"
    text_column: str = "text"
    label_column: str = "label"

    def __post_init__(self) -> None:
        # Accept any iterable of labels but store a tuple: the suite cache keys on
        # this object, so it must stay hashable.
        object.__setattr__(self, "labels", tuple(self.labels))
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
        if len(set(columns)) != len(columns):
            raise ValueError(f"id, text and label columns must differ, got {columns}")

    @property
    def required_columns(self) -> tuple[str, str, str]:
        """The columns every batch must have, in report order."""
        return (self.id_column, self.text_column, self.label_column)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one data check on a batch."""

    name: str
    expectation: str
    success: bool
    failed_rows: int
    detail: str
    example_ids: tuple = ()


@dataclass(frozen=True)
class ValidationReport:
    """All check outcomes for one batch."""

    row_count: int
    checks: tuple[CheckResult, ...]

    @property
    def success(self) -> bool:
        """True when every check passed."""
        return all(check.success for check in self.checks)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass, in report order."""
        return tuple(check for check in self.checks if not check.success)

    def summary(self) -> str:
        """'N checks passed', or one line per failed check."""
        if self.success:
            return f"{len(self.checks)} checks passed"
        lines = []
        for check in self.failed:
            line = f"{check.name} ({check.expectation}): {check.detail}"
            if check.example_ids:
                line += "; example ids: " + ", ".join(map(str, check.example_ids))
            lines.append(line)
        return "\n".join(lines)

    def as_rows(self) -> list[dict]:
        """One plain dict per check, for a table artifact."""
        return [
            {
                "name": check.name,
                "expectation": check.expectation,
                "success": check.success,
                "failed_rows": check.failed_rows,
                "detail": check.detail,
            }
            for check in self.checks
        ]


class DataCheckFailed(Exception):
    """Raised when a batch fails its data checks.

    str() names each failed expectation with its failing row count.
    """

    report: ValidationReport

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        lines = [
            f"{len(report.failed)} of {len(report.checks)} data checks failed "
            f"on a batch of {report.row_count} rows:"
        ]
        for check in report.failed:
            line = (
                f"- {check.expectation} ({check.name}): "
                f"{_rows(check.failed_rows)} failing; {check.detail}"
            )
            if check.example_ids:
                line += "; example ids: " + ", ".join(map(str, check.example_ids))
            lines.append(line)
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type[DataCheckFailed], tuple[ValidationReport]]:
        # Orchestrators pickle task exceptions; the default reduce would rebuild it
        # from the message string instead of the report.
        return (type(self), (self.report,))


def require_valid(report: ValidationReport) -> ValidationReport:
    """Return the report when every check passed, else raise DataCheckFailed."""
    if not report.success:
        raise DataCheckFailed(report)
    return report


def validate_batch(frame: pd.DataFrame, expectations: BatchExpectations) -> ValidationReport:
    """Run every data check on the frame through one GX suite and report each outcome.

    Never raises for bad data (missing columns, empty frame): that is reported.
    """
    present = frozenset(c for c in expectations.required_columns if c in frame.columns)
    missing = tuple(c for c in expectations.required_columns if c not in present)
    row_count = len(frame)

    with _GX_LOCK:
        # The cached batch definition and its execution engine hold one batch at a
        # time, so concurrent validations (threaded task runners) must not interleave.
        runtime = _gx_runtime()
        suite = _build_suite(expectations, present)
        result_format: dict[str, Any] = {
            # SUMMARY keeps only partial lists, so big bad batches stay cheap.
            "result_format": "SUMMARY",
            "partial_unexpected_count": _MAX_EXAMPLE_IDS,
        }
        if expectations.id_column in present:
            result_format["unexpected_index_column_names"] = [expectations.id_column]
        batch = runtime.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        suite_result = batch.validate(suite, result_format=result_format)

    by_check: dict[str, list[Any]] = {}
    for result in suite_result.results:
        name = result.expectation_config.meta[_META_KEY]
        by_check.setdefault(name, []).append(result)

    checks = []
    for name in _CHECK_ORDER:
        results = by_check.get(name)
        if not results:
            continue  # skipped because its column is missing
        if name == "required_columns":
            checks.append(_required_columns_check(results, missing, expectations))
        else:
            checks.append(_row_check(name, results[0], expectations, row_count))
    return ValidationReport(row_count=row_count, checks=tuple(checks))


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

        config = DataContextConfig(
            # No temp data-docs site: nothing here renders docs, and it would
            # create a temp dir per process.
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


@lru_cache(maxsize=32)
def _build_suite(expectations: BatchExpectations, present: frozenset[str]) -> Any:
    """The suite for this expectation set, without checks on missing columns."""
    gx = _gx_runtime().gx
    import great_expectations.expectations as gxe

    text, label = expectations.text_column, expectations.label_column

    def meta(name: str) -> dict[str, str]:
        return {_META_KEY: name}

    items = [
        gxe.ExpectColumnToExist(column=column, meta=meta("required_columns"))
        for column in expectations.required_columns
    ]
    if text in present:
        items += [
            gxe.ExpectColumnValuesToNotBeNull(column=text, meta=meta("text_not_null")),
            gxe.ExpectColumnValuesToNotMatchRegex(
                column=text, regex=r"^\s*$", meta=meta("text_not_blank")
            ),
            gxe.ExpectColumnValueLengthsToBeBetween(
                column=text,
                min_value=expectations.min_text_chars,
                max_value=expectations.max_text_chars,
                meta=meta("text_length"),
            ),
            gxe.ExpectColumnValuesToBeUnique(column=text, meta=meta("no_duplicate_texts")),
        ]
    if label in present:
        items += [
            gxe.ExpectColumnValuesToNotBeNull(column=label, meta=meta("label_not_null")),
            gxe.ExpectColumnValuesToBeInSet(
                column=label, value_set=list(expectations.labels), meta=meta("label_in_label_set")
            ),
        ]
    items.append(
        gxe.ExpectTableRowCountToBeBetween(
            min_value=expectations.min_new_rows, meta=meta("min_new_rows")
        )
    )
    # Never added to the context: it is rebuilt from code, so there is nothing to store.
    return gx.ExpectationSuite(name="retrain_batch_checks", expectations=items)


def _required_columns_check(
    results: list[Any], missing: tuple[str, ...], expectations: BatchExpectations
) -> CheckResult:
    errors = [msg for msg in map(_exception_message, results) if msg]
    if errors:
        return _errored("required_columns", "expect_column_to_exist", errors[0])
    success = all(result.success for result in results)
    if success:
        detail = "all required columns present"
    else:
        skipped: list[str] = []
        if expectations.text_column in missing:
            skipped += _TEXT_CHECKS
        if expectations.label_column in missing:
            skipped += _LABEL_CHECKS
        detail = "missing column(s): " + ", ".join(missing)
        if skipped:
            detail += "; not run: " + ", ".join(skipped)
    return CheckResult(
        name="required_columns",
        expectation="expect_column_to_exist",
        success=success,
        failed_rows=0,
        detail=detail,
    )


def _row_check(
    name: str, result: Any, expectations: BatchExpectations, row_count: int
) -> CheckResult:
    expectation = result.expectation_config.type
    error = _exception_message(result)
    if error:
        return _errored(name, expectation, error)
    if name == "min_new_rows":
        observed = result.result.get("observed_value", row_count)
        comparison = "fewer than" if not result.success else "at least"
        return CheckResult(
            name=name,
            expectation=expectation,
            success=bool(result.success),
            failed_rows=0,
            detail=f"batch has {_rows(observed)}, {comparison} "
            f"min_new_rows={expectations.min_new_rows}",
        )
    failed_rows = int(result.result.get("unexpected_count") or 0)
    what = {
        "text_not_null": f"a null {expectations.text_column}",
        "text_not_blank": f"a blank (whitespace-only) {expectations.text_column}",
        "text_length": f"a {expectations.text_column} length outside "
        f"[{expectations.min_text_chars}, {expectations.max_text_chars}] chars",
        "no_duplicate_texts": f"a {expectations.text_column} that also appears in another row",
        "label_not_null": f"a null {expectations.label_column}",
        "label_in_label_set": f"a {expectations.label_column} outside "
        f"{sorted(expectations.labels)}",
    }[name]
    verb = "has" if failed_rows == 1 else "have"
    return CheckResult(
        name=name,
        expectation=expectation,
        success=bool(result.success),
        failed_rows=failed_rows,
        detail=f"{failed_rows} of {_rows(row_count)} {verb} {what}",
        example_ids=_example_ids(result.result, expectations.id_column),
    )


def _errored(name: str, expectation: str, message: str) -> CheckResult:
    # A check GX could not evaluate (e.g. a column of an unexpected type) must
    # block training rather than crash the caller or pass silently.
    return CheckResult(
        name=name,
        expectation=expectation,
        success=False,
        failed_rows=0,
        detail=f"check could not run: {message}",
    )


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


def _example_ids(result: Mapping[str, Any], id_column: str) -> tuple:
    rows = result.get("partial_unexpected_index_list") or ()
    ids = []
    for row in rows[:_MAX_EXAMPLE_IDS]:
        if isinstance(row, Mapping) and id_column in row:
            value = row[id_column]
            # numpy scalars -> plain Python values, so reports compare and serialise cleanly.
            ids.append(value.item() if hasattr(value, "item") else value)
    return tuple(ids)


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"
