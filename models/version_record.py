"""The version record: what the registry keeps about a run's challenger, and recording it.

The record holds where the artifact is, the window of rows it saw, every score of the run (both
models, the floors, the slices, the behaviour suite, the paired test), the gate it faced, how its
training went, and the decision. It is written with the rows it consumed, in one transaction.
"""

from __future__ import annotations

import secrets
import shutil

from data.held_out import HeldOutSet
from data.pull import LabeledBatch
from data.settings import Settings
from data.sql import utcnow
from data.store import connect
from models import registry
from models.artifacts import save_version
from models.challenger import Challenger
from models.predictions import record_predictions
from models.promotion import Decision, PromotionPolicy, policy_for
from models.scores import Scores
from models.slices import slices_to_dict


def recorded_decision(decision: Decision, dry_run: bool) -> str:
    """The decision a challenger is registered with: pending the switch when it passed the gate."""
    return registry.DRY_RUN if dry_run else registry.PENDING if decision.promote else registry.REJECTED


def run_metrics(
    challenger: Challenger, batch: LabeledBatch, scores: Scores, decision: Decision, policy: PromotionPolicy
) -> dict:
    """Every score of the run, the gate and how training went, as the version's ``metrics``."""
    return {"challenger": scores.challenger.metrics.to_dict(),
            "champion": scores.champion.metrics.to_dict() if scores.champion else None,
            "baseline_accuracy": scores.baseline.accuracy,
            "tfidf_accuracy": scores.tfidf.metrics.accuracy if scores.tfidf else None,
            "slices": {name: slices_to_dict(s.slices) for name, s in
                       (("challenger", scores.challenger), ("champion", scores.champion),
                        ("tfidf", scores.tfidf)) if s is not None},
            "behaviour": scores.behaviour.to_dict() if scores.behaviour else None,
            "replay": {"rows": len(challenger.replayed_ids)},  # which ones: the ledger (role "replay")
            "paired": decision.paired.to_dict() if decision.paired else None,
            "gate": policy.__dict__,
            "training": {"epochs_run": challenger.training.epochs_run,
                         "best_epoch": challenger.training.best_epoch,
                         "resumed_from_epoch": challenger.training.resumed_from_epoch,
                         "seconds": round(challenger.training.seconds, 1),
                         "early_stopping_rows": challenger.training.early_stopping_rows},
            "pulled_behind_watermark": batch.behind,
            "evaluation_sample": scores.sample.to_dict() if scores.sample else None}


def version_record(
    challenger: Challenger, batch: LabeledBatch, held_out: HeldOutSet, scores: Scores, decision: Decision, *,
    policy: PromotionPolicy, artifact: tuple[str, str], outcome: str, triggered_by: str,
) -> registry.NewVersion:
    """The challenger as a version to record; ``artifact`` is its URI and sha256 (empty for a dry run)."""
    uri, sha256 = artifact
    return registry.NewVersion(
        base_model=challenger.base_model, artifact_uri=uri, artifact_sha256=sha256,
        labels=challenger.classifier.labels, sequence_length=challenger.classifier.sequence_length,
        window_after=batch.after, window_end=batch.frontier, new_rows=len(batch.frame),
        train_rows=challenger.training.train_rows,
        test_rows=held_out.size, test_set_hash=held_out.content_hash,
        accuracy=scores.challenger.metrics.accuracy,
        metrics=run_metrics(challenger, batch, scores, decision, policy),
        decision=outcome, reason=decision.reason, triggered_by=triggered_by,
        parent_version=challenger.parent_version,
    )


def record_challenger(
    settings: Settings, challenger: Challenger, batch: LabeledBatch, held_out: HeldOutSet, scores: Scores,
    decision: Decision, dry_run: bool, triggered_by: str,
) -> registry.ModelVersion:
    """Save the challenger's artifact and record it as a version with the rows it consumed (one
    transaction). A challenger that passed the gate is recorded pending until the switch. A dry run
    saves no artifact and records only the version: no consumed rows, no predictions."""
    if dry_run:
        artifact = "", ""
    else:
        artifact = save_version(challenger.classifier, settings.model_store,
                                f"{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}")
    consumption = None if dry_run else batch.consumption(settings.test_fraction, challenger.early_stopping_ids,
                                                         challenger.replayed_ids)
    new = version_record(challenger, batch, held_out, scores, decision, policy=policy_for(settings),
                         artifact=artifact, outcome=recorded_decision(decision, dry_run), triggered_by=triggered_by)
    version = registry.register_version(connect(settings), new, consumption)
    if not dry_run:
        # Next week, if promoted, it is the champion: it will be scored only on the new held-out rows.
        record_predictions(connect(settings), version.version, scores.challenger.by_text)
    if challenger.checkpoint_dir is not None:
        # Registered: a rerun must train anew on its own rows, never resume this job.
        shutil.rmtree(challenger.checkpoint_dir, ignore_errors=True)
    return version
