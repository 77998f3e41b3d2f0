"""A Great Expectations Data Docs site under the project's home folder, one page per validation.

The site lives in ``<home>/gx/uncommitted/data_docs/local_site/`` of a file-backed GX project at
``<home>/gx``: every run stores its two validation results there (row checks, batch checks), so the
site's index lists every run. Validation itself runs in an in-memory GX context; this module only
stores and renders its results. Building the docs must never fail a run: callers log the error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from validation.report import ValidationReport

_LOCK = threading.Lock()
_CONTEXTS: dict[Path, Any] = {}


@dataclass(frozen=True)
class DataDocs:
    """Where a run's Data Docs pages are (file URLs)."""

    index: str
    pages: tuple[str, ...]


def site_index(home: Path) -> Path:
    """The Data Docs index page of a project home (it exists once a run validated something)."""
    return _project_root(home) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def publish_data_docs(home: Path, report: ValidationReport, run_name: str, batch_name: str) -> DataDocs:
    """Store the report's GX results in the home's GX project and render their Data Docs pages."""
    from great_expectations.core.expectation_validation_result import expectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_time = datetime.now(UTC)
    with _LOCK:
        context = _context(home)
        keys = []
        for as_json in report.gx_results:
            suite_name = as_json["suite_name"]
            result = expectationSuiteValidationResultSchema.load(_with_run(as_json, run_name, run_time))
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
                run_id=RunIdentifier(run_name=run_name, run_time=run_time),
                batch_identifier=_safe(batch_name),
            )
            context.validation_results_store.set(key, result)
            keys.append(key)
        index = context.build_data_docs(resource_identifiers=keys)
        pages = tuple(site["site_url"] for key in keys for site in context.get_docs_sites_urls(resource_identifier=key))
    return DataDocs(index=next(iter(index.values())), pages=pages)


def _context(home: Path) -> Any:
    """The file-backed GX project under ``home`` (created on first use), one per home and process."""
    import great_expectations as gx

    root = _project_root(home)
    if root not in _CONTEXTS:
        root.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=str(root))
        _CONTEXTS[root] = context
    return _CONTEXTS[root]


def _project_root(home: Path) -> Path:
    return Path(home).expanduser().resolve()


def _with_run(as_json: dict, run_name: str, run_time: datetime) -> dict:
    """The result with the run named in its metadata, which the page header shows."""
    meta = dict(as_json.get("meta") or {})
    meta["run_id"] = {"run_name": run_name, "run_time": run_time.isoformat()}
    meta["validation_time"] = run_time.strftime("%Y%m%dT%H%M%S.%fZ")
    meta["expectation_suite_name"] = as_json["suite_name"]
    return {**as_json, "meta": meta}


def _safe(name: str) -> str:
    """A batch name usable as a file name in the site."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:120] or "batch"
