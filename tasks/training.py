"""The fine-tuning step: the champion (or the base model, the first time) learns the new rows
(``models.challenger``), reporting every epoch in the log, on the run's page and on a terminal."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from data.progress import progress_bar
from data.pull import LabeledBatch
from data.settings import Settings
from models.challenger import Challenger, prepare_fine_tuning, train_challenger
from models.registry import ModelVersion
from models.training import EpochCallback, EpochReport


@contextmanager
def epoch_progress(
    logger: logging.Logger | logging.LoggerAdapter, progress: UUID, rows: int, epochs: int
) -> Iterator[EpochCallback]:
    """What reports each finished epoch: a log line, the ``progress`` artifact and a terminal bar."""
    # On a terminal (`retrain run`) a bar too; a worker's runs have the log lines and the UI's artifact.
    with progress_bar(f"fine-tuning on {rows} rows", epochs, unit="epochs") as advance:
        def log_epoch(report: EpochReport) -> None:
            advance(1)
            stop = ("" if report.early_stopping_loss is None
                    else f", early-stopping loss {report.early_stopping_loss:.4f}")
            logger.info("epoch %d/%d: train loss %.4f%s (%.0f s)", report.epoch, report.epochs,
                        report.train_loss, stop, report.seconds)
            update_progress_artifact(progress, 100.0 * report.epoch / report.epochs,
                                     description=f"Fine-tuning on {rows} rows: epoch {report.epoch}/{report.epochs}, "
                                                 f"train loss {report.train_loss:.4f}{stop}")

        yield log_epoch


@task(name="fine-tune challenger", cache_policy=NO_CACHE)
def fine_tune_challenger(
    settings: Settings, champion: ModelVersion | None, batch: LabeledBatch, dry_run: bool = False
) -> Challenger:
    """Fine-tune a challenger on the batch's training rows (held-out rows never train) and the
    replayed older rows. A dry run leaves no checkpoints."""
    logger = get_run_logger()
    job = prepare_fine_tuning(settings, champion, batch, dry_run)
    rows = len(job.rows)
    # A progress bar on the run's page in the Prefect UI, moved after every epoch.
    progress = create_progress_artifact(0.0, key="fine-tuning-progress",
                                        description=f"Fine-tuning on {rows} rows: starting")
    start = f"champion v{champion.version}" if champion and not job.refit else settings.base_model
    logger.info("fine-tuning %s on %d rows (%d of them replayed older rows), sequence length %d, on %s",
                start + (" (a refit)" if job.refit else ""), rows, len(job.replayed_ids),
                job.classifier.sequence_length, job.devices.describe())
    with epoch_progress(logger, progress, rows, settings.epochs) as on_epoch:
        challenger = train_challenger(settings, champion, job, on_epoch)
    result = challenger.training
    if result.resumed_from_epoch:
        logger.info("resumed from the checkpoint of epoch %d instead of starting over", result.resumed_from_epoch)
    logger.info("fine-tuned in %.0f s (%.1f examples/s), best epoch %d", result.seconds,
                result.examples_per_second, result.best_epoch)
    update_progress_artifact(progress, 100.0, description=f"Fine-tuned on {rows} rows in {result.seconds:.0f} s, "
                                                          f"best epoch {result.best_epoch}")
    return challenger
