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

Each check is one entry of ``validation.checks``. The row checks run in one GX validation; the batch
checks in a second one, on the same frame with a ``quarantined`` column, so that GX also records the
quarantined share. Nothing here reads
or writes a database: the caller passes the stored rows to compare with (``ReferenceData``) and
writes the quarantine (``validation.gate``).

GX is imported lazily: importing it costs seconds, and most importers of this module (flow
definitions, CLI, tests of other modules) never validate anything.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from validation import expectations as custom
from validation.batch_expectations import BatchExpectations, ReferenceData
from validation.checks import BATCH_CHECKS, CHECK_ORDER, ROW_CHECKS, SHARE_CHECK
from validation.data_check import MAX_EXAMPLE_IDS, QUARANTINED_COLUMN
from validation.report import QUARANTINED, CheckResult, DataCheckFailed, FlaggedRow, ValidationReport, require_valid

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

_DOCS_VALUE_CHARS = 200  # longest value a Data Docs page shows (a batch may hold a 1 MB text)


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
    # Here, not at the top: they import pandas (0.6 s), which the importers of this module's types (the CLI,
    # flow definitions) do not need.
    from validation import frame as prepared
    from validation import outcomes, suites

    batch = prepared.prepare(frame, expectations, reference)
    with _GX_LOCK:
        # The cached batch definition and its execution engine hold one batch at a
        # time, so concurrent validations (threaded task runners) must not interleave.
        runtime = _gx_runtime()
        row_results = _run(runtime, suites.row_suite(runtime.gx, batch), batch, complete=True)
        rows = outcomes.row_outcomes(row_results.results, batch, released or {})
        batch.work[QUARANTINED_COLUMN] = rows.quarantine_mask
        batch_results = _run(runtime, suites.batch_suite(runtime.gx, batch), batch, complete=False)
    checks = [*rows.checks, *outcomes.batch_outcomes(batch_results.results, batch)]
    if any(check.name == SHARE_CHECK and not check.success for check in checks):
        # Too many rows to quarantine: those rows are why the batch is refused.
        checks = [outcomes.refused(check) if check.status == QUARANTINED else check for check in checks]
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

        custom.load()  # register the custom expectations with GX
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
    from validation.frame import index_columns  # pandas: see validate_batch

    result_format: dict[str, Any] = {
        # SUMMARY keeps only partial lists, so big bad batches stay cheap where ids are not needed.
        "result_format": "COMPLETE" if complete else "SUMMARY",
        "partial_unexpected_count": MAX_EXAMPLE_IDS,
        "unexpected_index_column_names": index_columns(batch),
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
