"""The decide-and-promote steps: record the challenger as a version, switch the champion if better."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from data.held_out import HeldOutSet
from data.pull import LabeledBatch
from data.settings import Settings
from data.sql import utcnow
from data.store import connect
from models import registry
from models.artifacts import save_version
from models.behaviour import BehaviourComparison
from models.evaluation import Metrics
from models.promotion import Decision, PromotionPolicy, compare_paired, decide
from models.slices import slices_to_dict
from tasks.evaluation import Scored
from tasks.training import Challenger


@dataclass(frozen=True)
class Scores:
    """Both models and the floors, on one held-out snapshot, and both on the behaviour suite."""

    truth: list[str]
    challenger: Scored
    champion: Scored | None
    baseline: Metrics  # the majority class
    tfidf: Scored | None = None  # TF-IDF + logistic regression trained this run
    behaviour: BehaviourComparison | None = None


def policy_for(settings: Settings) -> PromotionPolicy:
    """The promotion policy the settings ask for."""
    return PromotionPolicy(min_improvement=settings.min_improvement, gate=settings.promotion_gate,
                           alpha=settings.alpha, max_recall_drop=settings.max_recall_drop,
                           max_slice_drop=settings.max_slice_drop, min_slice_rows=settings.min_slice_rows,
                           max_behaviour_regressions=settings.max_behaviour_regressions,
                           first_model_baseline=settings.first_model_baseline)


def decide_from_scores(settings: Settings, scores: Scores) -> Decision:
    """The gate's decision on both models' scores, with the paired comparison when there is a champion."""
    paired = None
    if scores.champion is not None:
        paired = compare_paired(scores.truth, scores.champion.predictions, scores.challenger.predictions,
                                seed=settings.seed)
    return decide(scores.challenger.metrics, scores.champion.metrics if scores.champion else None,
                  scores.baseline, policy_for(settings), paired,
                  tfidf=scores.tfidf.metrics if scores.tfidf else None,
                  slices=(scores.challenger.slices, scores.champion.slices) if scores.champion else None,
                  behaviour=scores.behaviour)


@task(name="decide", cache_policy=NO_CACHE)
def decide_promotion(settings: Settings, scores: Scores) -> Decision:
    """Apply the promotion gate."""
    decision = decide_from_scores(settings, scores)
    get_run_logger().info("%s: %s", "promote" if decision.promote else "keep champion", decision.reason)
    return decision


@task(name="register challenger", cache_policy=NO_CACHE)
def register_challenger(
    settings: Settings,
    challenger: Challenger,
    batch: LabeledBatch,
    held_out: HeldOutSet,
    scores: Scores,
    decision: Decision,
    dry_run: bool,
    triggered_by: str,
) -> registry.ModelVersion:
    """Save the challenger's artifact and record it as a version with the rows it consumed (one
    transaction). A challenger that passed the gate is recorded pending until the switch. A dry run
    saves no artifact and records only the version: no consumed rows, no predictions."""
    if dry_run:
        uri, sha256 = "", ""
    else:
        uri, sha256 = save_version(challenger.classifier, settings.model_store,
                                   f"{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}")
    outcome = registry.DRY_RUN if dry_run else registry.PENDING if decision.promote else registry.REJECTED
    consumption = None if dry_run else batch.consumption(settings.test_fraction, challenger.early_stopping_ids,
                                                         challenger.replayed_ids)
    version = registry.register_version(connect(settings), registry.NewVersion(
        base_model=challenger.base_model, artifact_uri=uri, artifact_sha256=sha256,
        labels=challenger.classifier.labels, sequence_length=challenger.classifier.sequence_length,
        window_after=batch.after, window_end=batch.frontier, new_rows=len(batch.frame),
        train_rows=challenger.training.train_rows,
        test_rows=held_out.size, test_set_hash=held_out.content_hash,
        accuracy=scores.challenger.metrics.accuracy,
        metrics={"challenger": scores.challenger.metrics.to_dict(),
                 "champion": scores.champion.metrics.to_dict() if scores.champion else None,
                 "baseline_accuracy": scores.baseline.accuracy,
                 "tfidf_accuracy": scores.tfidf.metrics.accuracy if scores.tfidf else None,
                 "slices": {name: slices_to_dict(s.slices) for name, s in
                            (("challenger", scores.challenger), ("champion", scores.champion),
                             ("tfidf", scores.tfidf)) if s is not None},
                 "behaviour": scores.behaviour.to_dict() if scores.behaviour else None,
                 "replay": {"rows": len(challenger.replayed_ids)},  # which ones: the ledger (role "replay")
                 "paired": decision.paired.to_dict() if decision.paired else None,
                 "gate": policy_for(settings).__dict__,
                 "training": {"epochs_run": challenger.training.epochs_run,
                              "best_epoch": challenger.training.best_epoch,
                              "resumed_from_epoch": challenger.training.resumed_from_epoch,
                              "seconds": round(challenger.training.seconds, 1),
                              "early_stopping_rows": challenger.training.early_stopping_rows},
                 "pulled_behind_watermark": batch.behind},
        decision=outcome, reason=decision.reason, triggered_by=triggered_by,
        parent_version=challenger.parent_version,
    ), consumption)
    if not dry_run:
        # Next week, if promoted, it is the champion: it will be scored only on the new held-out rows.
        registry.record_predictions(connect(settings), version.version, scores.challenger.by_text)
    if challenger.checkpoint_dir is not None:
        # Registered: a rerun must train anew on its own rows, never resume this job.
        shutil.rmtree(challenger.checkpoint_dir, ignore_errors=True)
    get_run_logger().info("registered version %d (%s)", version.version, outcome)
    return version


@task(name="promote challenger", cache_policy=NO_CACHE)
def promote_challenger(
    settings: Settings, version: registry.ModelVersion, expected_champion: int | None, actor: str
) -> registry.Promotion | None:
    """Switch the champion to ``version`` unless another run switched it first (compare-and-swap)."""
    engine = connect(settings)
    logger = get_run_logger()
    try:
        promotion = registry.switch_champion(engine, version.version, expected_champion, actor,
                                             version.reason)
    except registry.PromotionConflict as conflict:
        registry.set_decision(engine, version.version, registry.REJECTED, f"lost a race: {conflict}")
        # Its rows are waiting again: the champion that won did not consume them through this version.
        logger.warning("not promoted: %s", conflict)
        return None
    logger.info("champion is now version %d (was %s)", version.version, expected_champion)
    return promotion
