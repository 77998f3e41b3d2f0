"""The challenger: one fine-tuning job of a run, from what it starts on to the model it produced.

The job starts from the champion (or the base model, ``models.starting_point``), trains on the
batch's training rows and a sample of older ones (``models.replay``), and checkpoints every epoch
into a folder named by everything that decides its result, so a rerun of the same job resumes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from data.pull import LabeledBatch
from data.settings import Settings
from models.classifier import Classifier
from models.devices import Devices, resolve_devices
from models.registry import ModelVersion
from models.replay import with_replay
from models.starting_point import starting_point
from models.training import EpochCallback, TrainingConfig, TrainingResult, fine_tune
from models.training_kernels import keep_compiled_kernels


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


@dataclass(frozen=True)
class FineTuningJob:
    """A fine-tuning job ready to train: its starting classifier, its rows, its devices, its checkpoints."""

    classifier: Classifier
    rows: pd.DataFrame  # the batch's training rows, then the replayed older rows
    replayed_ids: tuple[int, ...]
    devices: Devices
    checkpoint_dir: Path | None  # None: a dry run leaves nothing behind
    refit: bool = False  # the base model trained on every older row of the lineage too (models.replay.refits)


def training_config(settings: Settings) -> TrainingConfig:
    """The fine-tuning knobs the settings ask for."""
    return TrainingConfig(epochs=settings.epochs, batch_size=settings.batch_size,
                          learning_rate=settings.learning_rate, warmup_fraction=settings.warmup_fraction,
                          early_stopping_fraction=settings.early_stopping_fraction, seed=settings.seed)


def checkpoint_dir_for(settings: Settings, champion: ModelVersion | None, batch: LabeledBatch,
                       refit: bool = False) -> Path:
    """The checkpoint folder of this exact fine-tuning job: same start, same rows, same knobs."""
    identity = json.dumps({
        "start": champion.artifact_sha256 if champion else settings.base_model, "refit": refit,
        "after": str(batch.after), "end": str(batch.end),
        "rows": hashlib.sha256(",".join(map(str, sorted(batch.frame["id"]))).encode()).hexdigest(),
        "config": asdict(training_config(settings)), "labels": settings.labels,
        "max_sequence_length": settings.max_sequence_length,
        "replay": [settings.replay_fraction, settings.replay_max_rows],
    }, sort_keys=True)
    return settings.cache_dir / "checkpoints" / hashlib.sha256(identity.encode()).hexdigest()[:20]


def prepare_fine_tuning(
    settings: Settings, champion: ModelVersion | None, batch: LabeledBatch, dry_run: bool = False
) -> FineTuningJob:
    """The job that fine-tunes the champion (or the base model) on the batch's training rows and replay."""
    devices = resolve_devices(settings.devices)
    rows, replayed, refit = with_replay(settings, champion, batch)
    with devices.scope():  # the model's variables are created where it trains (mirrored on every replica)
        classifier = starting_point(settings, champion, batch, refit)
    return FineTuningJob(classifier=classifier, rows=rows, replayed_ids=tuple(replayed), devices=devices,
                         checkpoint_dir=None if dry_run else checkpoint_dir_for(settings, champion, batch, refit),
                         refit=refit)


def train_challenger(
    settings: Settings, champion: ModelVersion | None, job: FineTuningJob, on_epoch: EpochCallback | None = None
) -> Challenger:
    """Run the job. Rows an earlier run held back for early stopping are trained on now, never held back again."""
    rows = job.rows
    if job.checkpoint_dir is not None:  # a dry run leaves nothing behind
        keep_compiled_kernels(settings.cache_dir / "xla")  # next week's run loads them instead of compiling
    with job.devices.scope():
        result = fine_tune(job.classifier, rows["text"].tolist(), rows["label"].tolist(), training_config(settings),
                           on_epoch=on_epoch, checkpoint_dir=job.checkpoint_dir, devices=job.devices,
                           early_stopping_eligible=rows["prior_role"].isna().tolist())
    return Challenger(classifier=job.classifier, training=result,
                      parent_version=champion.version if champion else None,
                      # The parent is the champion it follows (its lineage's rows), whatever the weights start from.
                      base_model=champion.base_model if champion and not job.refit else settings.base_model,
                      checkpoint_dir=job.checkpoint_dir, replayed_ids=job.replayed_ids,
                      early_stopping_ids=tuple(int(rows["id"].iloc[i]) for i in result.early_stopping_index))
