"""The data-check steps: a refused batch stops the run before any training, and rows that fail
row-level checks are quarantined while the rest proceed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from data import store
from data.pull import LabeledBatch
from data.settings import Settings
from validation import require_valid
from validation.docs import DataDocs, publish_data_docs
from validation.gate import CheckedBatch, check_batch, expectations_for

if TYPE_CHECKING:
    from validation import ValidationReport

__all__ = ["checks_markdown", "expectations_for", "validate_new_rows"]

_SHOWN_ROWS = 20  # quarantined rows listed in the artifact; `retrain quarantine list` has them all
DATA_CHECK_FAILED_EVENT = "retrain.data-check.failed"


def _flow_run_name() -> str | None:
    from prefect.runtime import flow_run

    return flow_run.name


@task(name="validate new rows", cache_policy=NO_CACHE)
def validate_new_rows(settings: Settings, batch: LabeledBatch, dry_run: bool = False) -> CheckedBatch:
    """Run the data checks on the pulled rows and quarantine rows that fail row checks (a dry run only
    leaves them out); raise ``DataCheckFailed`` (quarantining nothing) when the batch is refused."""
    logger = get_run_logger()
    run_name = _flow_run_name()
    checked = check_batch(store.connect(settings), settings, batch, flow_run=run_name, write=not dry_run)
    report = checked.report
    docs = None
    try:
        window = f"after-{batch.after.id if batch.after else 'start'}-to-{batch.end.id if batch.end else 'none'}"
        docs = publish_data_docs(settings.home, report, run_name or "manual", window)
    except Exception as error:  # the report is a convenience: never fail a run over it
        logger.warning("could not build the GX Data Docs: %s", error)
    create_markdown_artifact(checks_markdown(checked, docs), key="data-checks",
                             description=f"Data checks on {report.row_count} new rows")
    if report.success:
        logger.info("data checks passed on %d rows: %d quarantined, %d proceed%s", report.row_count,
                    checked.quarantined, len(checked.batch.frame),
                    "" if report.summary().endswith("checks passed") else "\n" + report.summary())
    else:
        logger.error("data checks failed (nothing quarantined, nothing trained):\n%s", report.summary())
        emit_data_check_failed(settings, report, run_name)
    if docs is not None:
        logger.info("GX Data Docs: %s", docs.index)
    require_valid(report)
    return checked


def data_check_failed_payload(report: ValidationReport, run_name: str | None, run_url: str | None) -> dict:
    """What a refused batch's event carries: each failed check, the batch size and the run's link."""
    failed = [{"name": c.name, "expectation": c.expectation, "failed_rows": c.failed_rows, "detail": c.detail[:500],
               "example_ids": [str(i) for i in c.example_ids[:10]]} for c in report.failed]
    return {"failed_checks": failed, "rows": report.row_count, "flow_run_name": run_name, "flow_run_url": run_url}


def emit_data_check_failed(settings: Settings, report: ValidationReport, run_name: str | None) -> None:
    """Emit ``retrain.data-check.failed``: an automation (``retrain alerts setup``) turns it into a notification."""
    from prefect.events import emit_event
    from prefect.runtime import flow_run
    from prefect.utilities.urls import url_for

    run_url = url_for("flow-run", obj_id=flow_run.id) if flow_run.id else None  # None without a UI
    emit_event(DATA_CHECK_FAILED_EVENT,
               resource={"prefect.resource.id": f"retrain.labeled-data.{settings.table}",
                         "prefect.resource.name": settings.table},
               payload=data_check_failed_payload(report, run_name, run_url))


def checks_markdown(checked: CheckedBatch, docs: DataDocs | None = None) -> str:
    """The data-check artifact: outcome, Data Docs links, one table row per check, the quarantined rows."""
    report = checked.report
    if report.success:
        outcome = (f"**{report.row_count} rows pulled: {checked.quarantined} quarantined, "
                   f"{len(checked.batch.frame)} proceed to training.**")
    else:
        outcome = (f"**Refused: {len(report.failed)} of {len(report.checks)} checks failed on {report.row_count} "
                   "rows. Nothing was quarantined and nothing was trained; the champion is unchanged.**")
    lines = [f"# Data checks: {'passed' if report.success else 'refused'}", "", outcome, ""]
    if docs is not None:
        links = [f"[{name}]({url})" for name, url in zip(("row checks", "batch checks"), docs.pages, strict=False)]
        lines += ["GX Data Docs: " + " · ".join([*links, f"[every run]({docs.index})"]), ""]
    lines += ["| check | status | rows | detail | example ids |", "|---|---|---|---|---|"]
    for check in report.checks:
        examples = ", ".join(map(str, check.example_ids))
        lines.append(f"| {check.name} | {check.status} | {check.failed_rows} | {_cell(check.detail)} | {examples} |")
    if report.skipped:
        lines += ["", "Not run: " + "; ".join(f"{name} ({why})" for name, why in report.skipped)]
    if report.success and report.flagged:
        lines += ["", f"## Quarantined rows ({len(report.flagged)}; `retrain quarantine list` shows all, "
                      "`retrain quarantine release ID...` puts a row back into the next pull)", "",
                  "| row id | check | reason |", "|---|---|---|"]
        for row in report.flagged[:_SHOWN_ROWS]:
            for check, reason in row.reasons:
                lines.append(f"| {row.row_id} | {check} | {_cell(reason)} |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
