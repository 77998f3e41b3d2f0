"""The data-check step: a failed check stops the run before any training."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from retrain.settings import Settings
from retrain.store import LabeledBatch
from validation import BatchExpectations, ValidationReport, require_valid, validate_batch


def expectations_for(settings: Settings) -> BatchExpectations:
    """The batch expectations the settings ask for."""
    return BatchExpectations(
        labels=tuple(settings.labels), min_new_rows=settings.min_new_rows,
        min_text_chars=settings.min_text_chars, max_text_chars=settings.max_text_chars,
    )


@task(name="validate new rows", cache_policy=NO_CACHE)
def validate_new_rows(settings: Settings, batch: LabeledBatch) -> ValidationReport:
    """Run the expectation suite on the pulled rows; raise ``DataCheckFailed`` on any failure."""
    report = validate_batch(batch.frame, expectations_for(settings))
    create_table_artifact(report.as_rows(), key="data-checks",
                          description=f"Data checks on {report.row_count} new rows")
    logger = get_run_logger()
    if report.success:
        logger.info("data checks: %d of %d passed", len(report.checks), len(report.checks))
    else:
        logger.error("data checks failed:\n%s", report.summary())
    return require_valid(report)
