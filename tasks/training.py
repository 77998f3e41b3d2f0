"""The fine-tuning step: the champion (or the base model, the first time) learns the new rows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from data.consumed import trained_rows
from data.progress import progress_bar
from data.pull import LabeledBatch
from data.settings import Settings
from data.store import connect
from models.artifacts import open_version
from models.classifier import Classifier, build_classifier
from models.devices import resolve_devices
from models.encoding import choose_sequence_length, token_lengths
from models.hardware import resolve_precision
from models.registry import ModelVersion
from models.replay import replay_sample, replay_size
from models.training import EpochReport, TrainingConfig, TrainingResult, fine_tune


@dataclass
class Challenger:
    """A freshly fine-tuned model, not yet registered."""

    classifier: Classifier
    training: TrainingResult
    parent_version: int | None
    base_model: str
    checkpoint_dir: Path | None = None
    early_stopping_ids: tuple[int, ...] = ()  # held back to pick the best epoch: they train next run
    replayed_ids: tuple[int, ...] = ()  # older training rows mixed into the new ones (role "replay")


def checkpoint_dir_for(settings: Settings, champion: ModelVersion | None, batch: LabeledBatch) -> Path:
    """The checkpoint folder of this exact fine-tuning job: same start, same rows, same knobs."""
    identity = json.dumps({
        "start": champion.artifact_sha256 if champion else settings.base_model,
        "after": str(batch.after), "end": str(batch.end),
        "rows": hashlib.sha256(",".join(map(str, sorted(batch.frame["id"]))).encode()).hexdigest(),
        "config": asdict(training_config(settings)), "labels": settings.labels,
        "max_sequence_length": settings.max_sequence_length,
        "replay": [settings.replay_fraction, settings.replay_max_rows],
    }, sort_keys=True)
    return settings.cache_dir / "checkpoints" / hashlib.sha256(identity.encode()).hexdigest()[:20]


def starting_point(settings: Settings, champion: ModelVersion | None, batch: LabeledBatch) -> Classifier:
    """The champion's weights (warm start), or a new classifier on the base model."""
    if champion is not None:
        if tuple(settings.labels) != champion.labels:
            raise ValueError(
                f"RETRAIN_LABELS {settings.labels} differ from the champion's {list(champion.labels)}"
                f" (version {champion.version}); a new label set needs a new database or a rollback"
            )
        return open_version(champion.artifact_uri, champion.artifact_sha256, settings.cache_dir,
                            dtype=resolve_precision(settings.precision))
    classifier = build_classifier(settings.base_model, tuple(settings.labels),
                                  sequence_length=settings.max_sequence_length, seed=settings.seed,
                                  dtype=resolve_precision(settings.precision))
    # The length is chosen once, from the first data, and kept by every descendant.
    lengths = token_lengths(classifier.tokenizer, batch.training_rows["text"].tolist())
    classifier.sequence_length = choose_sequence_length(lengths, settings.max_sequence_length)
    return classifier


def training_config(settings: Settings) -> TrainingConfig:
    return TrainingConfig(epochs=settings.epochs, batch_size=settings.batch_size,
                          learning_rate=settings.learning_rate, warmup_fraction=settings.warmup_fraction,
                          early_stopping_fraction=settings.early_stopping_fraction, seed=settings.seed)


def replay_candidates(settings: Settings, champion: ModelVersion, batch: LabeledBatch) -> pd.DataFrame:
    """The rows replay may sample: those the champion's lineage trained on (the ledger names them;
    they are never in the batch, which holds only rows the lineage has not consumed)."""
    return trained_rows(connect(settings), settings, batch.lineage)


def with_replay(
    settings: Settings, champion: ModelVersion | None, batch: LabeledBatch
) -> tuple[pd.DataFrame, list[int]]:
    """The rows to fine-tune on: the batch's training rows and a stratified sample of older ones."""
    rows = batch.training_rows
    size = replay_size(len(rows), settings.replay_fraction, settings.replay_max_rows)
    if champion is None or size == 0:
        return rows, []
    pool = replay_candidates(settings, champion, batch)
    ids = replay_sample(pool, size, settings.seed)
    replayed = pool[pool["id"].isin(ids)]
    return pd.concat([rows, replayed[rows.columns.intersection(replayed.columns)]], ignore_index=True), ids


@task(name="fine-tune challenger", cache_policy=NO_CACHE)
def fine_tune_challenger(
    settings: Settings, champion: ModelVersion | None, batch: LabeledBatch, dry_run: bool = False
) -> Challenger:
    """Fine-tune a challenger on the batch's training rows (held-out rows never train). Rows that an
    earlier run held back for early stopping are trained on now, never held back again."""
    logger = get_run_logger()
    devices = resolve_devices(settings.devices)
    with devices.scope():  # the model's variables are created where it trains (mirrored on every replica)
        classifier = starting_point(settings, champion, batch)
    rows, replayed = with_replay(settings, champion, batch)

    # A progress bar on the run's page in the Prefect UI, moved after every epoch.
    progress = create_progress_artifact(0.0, key="fine-tuning-progress",
                                        description=f"Fine-tuning on {len(rows)} rows: starting")

    def log_epoch(report: EpochReport) -> None:
        advance(1)
        stop = "" if report.early_stopping_loss is None else f", early-stopping loss {report.early_stopping_loss:.4f}"
        logger.info("epoch %d/%d: train loss %.4f%s (%.0f s)", report.epoch, report.epochs,
                    report.train_loss, stop, report.seconds)
        update_progress_artifact(progress, 100.0 * report.epoch / report.epochs,
                                 description=f"Fine-tuning on {len(rows)} rows: epoch {report.epoch}/{report.epochs}, "
                                             f"train loss {report.train_loss:.4f}{stop}")

    logger.info("fine-tuning %s on %d rows (%d of them replayed older rows), sequence length %d, on %s",
                f"champion v{champion.version}" if champion else settings.base_model, len(rows), len(replayed),
                classifier.sequence_length, devices.describe())
    checkpoints = None if dry_run else checkpoint_dir_for(settings, champion, batch)  # a dry run leaves nothing
    # On a terminal (`retrain run`) a bar too; a worker's runs have the log lines and the UI's artifact.
    bar = progress_bar(f"fine-tuning on {len(rows)} rows", settings.epochs, unit="epochs")
    with devices.scope(), bar as advance:
        result = fine_tune(classifier, rows["text"].tolist(), rows["label"].tolist(), training_config(settings),
                           on_epoch=log_epoch, checkpoint_dir=checkpoints, devices=devices,
                           early_stopping_eligible=rows["prior_role"].isna().tolist())
    if result.resumed_from_epoch:
        logger.info("resumed from the checkpoint of epoch %d instead of starting over", result.resumed_from_epoch)
    logger.info("fine-tuned in %.0f s (%.1f examples/s), best epoch %d", result.seconds,
                result.examples_per_second, result.best_epoch)
    update_progress_artifact(progress, 100.0, description=f"Fine-tuned on {len(rows)} rows in {result.seconds:.0f} s, "
                                                          f"best epoch {result.best_epoch}")
    return Challenger(classifier=classifier, training=result,
                      parent_version=champion.version if champion else None,
                      base_model=champion.base_model if champion else settings.base_model,
                      checkpoint_dir=checkpoints, replayed_ids=tuple(replayed),
                      early_stopping_ids=tuple(int(rows["id"].iloc[i]) for i in result.early_stopping_index))
