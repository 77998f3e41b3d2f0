"""The decide-and-promote steps: the gate's decision (``models.promotion``), the challenger recorded as
a version (``models.version_record``), and the champion switched to it when it passed."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from data.held_out import HeldOutSet
from data.pull import LabeledBatch
from data.settings import Settings
from data.store import connect
from models import registry
from models.challenger import Challenger
from models.promotion import Decision, decide_from_scores
from models.scores import Scores
from models.version_record import record_challenger


@task(name="decide", cache_policy=NO_CACHE)
def decide_promotion(settings: Settings, scores: Scores) -> Decision:
    """Apply the promotion gate."""
    decision = decide_from_scores(settings, scores)
    get_run_logger().info("%s: %s", "promote" if decision.promote else "keep champion", decision.reason)
    return decision


# No retries: a retry after the version's transaction committed would register the challenger twice.
@task(name="register challenger", cache_policy=NO_CACHE)
def register_challenger(
    settings: Settings, challenger: Challenger, batch: LabeledBatch, held_out: HeldOutSet, scores: Scores,
    decision: Decision, dry_run: bool, triggered_by: str,
) -> registry.ModelVersion:
    """Save the challenger's artifact and record it as a version with the rows it consumed."""
    version = record_challenger(settings, challenger, batch, held_out, scores, decision, dry_run, triggered_by)
    get_run_logger().info("registered version %d (%s)", version.version, version.decision)
    return version


# No retries: a retry after the switch committed would find the champion moved and record the new
# champion as a challenger that lost the race.
@task(name="promote challenger", cache_policy=NO_CACHE)
def promote_challenger(
    settings: Settings, version: registry.ModelVersion, expected_champion: int | None, actor: str
) -> registry.Promotion | None:
    """Switch the champion to ``version`` unless another run switched it first (compare-and-swap)."""
    logger = get_run_logger()
    try:
        promotion = registry.promote_or_reject(connect(settings), version, expected_champion, actor)
    except registry.PromotionConflict as conflict:
        logger.warning("not promoted: %s", conflict)
        return None
    logger.info("champion is now version %d (was %s)", version.version, expected_champion)
    return promotion


def promote_if_passed(
    settings: Settings, version: registry.ModelVersion, decision: Decision, champion: registry.ModelVersion | None,
    dry_run: bool, actor: str,
) -> bool:
    """Promote a challenger that passed the gate (a dry run only says it would); whether it is now champion."""
    if not decision.promote:
        return False
    if dry_run:
        get_run_logger().info("dry run: version %d would be promoted, champion left as is", version.version)
        return False
    return promote_challenger(settings, version, champion.version if champion else None, actor=actor) is not None
