"""The evaluation steps: the evaluation sample chosen from the held-out snapshot
(``models.evaluation_sample``), champion, challenger and the TF-IDF baseline scored on it
(``models.scoring``, ``models.baseline``), and both models run through the behaviour suite."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from data.held_out import HeldOutSet
from data.pull import LabeledBatch
from data.settings import Settings
from models.baseline import baseline_training_rows, score_tfidf
from models.behaviour import BehaviourComparison
from models.classifier import Classifier
from models.evaluation_sample import EvaluationSample, size_from_pilot
from models.evaluation_sample import choose_evaluation_sample as choose_sample
from models.registry import ModelVersion
from models.scores import Scored
from models.scoring import behaviour_of, score, score_version
from tasks.retries import DATABASE_RETRIES, DATABASE_RETRY_DELAYS, database_unreachable


@task(name="choose evaluation sample", cache_policy=NO_CACHE)
def choose_evaluation_sample(settings: Settings, held_out: HeldOutSet, champion: ModelVersion | None
                             ) -> EvaluationSample:
    """The held-out rows both models are scored on: as many as the target interval needs, or all of them."""
    sample = choose_sample(settings, held_out, champion)
    if sample.plan is not None:
        get_run_logger().info("evaluation sample: %s", sample.plan.reason)
    return sample


@task(name="size evaluation sample from the pilot", cache_policy=NO_CACHE)
def size_sample_from_pilot(settings: Settings, held_out: HeldOutSet, pilot: EvaluationSample, challenger: Scored,
                           champion: Scored) -> EvaluationSample:
    """The evaluation sample sized from how often the two models' pilot scores part ways."""
    sample = size_from_pilot(settings, held_out, pilot.rows.frame["label"].tolist(), challenger.predictions,
                             champion.predictions)
    get_run_logger().info("evaluation sample: %s", sample.plan.reason)
    return sample


@task(name="score challenger", cache_policy=NO_CACHE)
def score_challenger(settings: Settings, classifier: Classifier, held_out: HeldOutSet,
                     pilot: Scored | None = None) -> Scored:
    """The challenger on every row of the evaluation sample (those of ``pilot`` scored already)."""
    scored = score(classifier, held_out, settings.eval_batch_size, known=pilot.by_text if pilot else None)
    get_run_logger().info("challenger accuracy %.4f on %d held-out rows", scored.metrics.accuracy, held_out.size)
    return scored


@task(name="score champion", cache_policy=NO_CACHE, retries=DATABASE_RETRIES,
      retry_delay_seconds=DATABASE_RETRY_DELAYS, retry_condition_fn=database_unreachable)
def score_champion(settings: Settings, champion: ModelVersion, held_out: HeldOutSet, dry_run: bool = False,
                   pilot: Scored | None = None) -> Scored:
    """The champion, run only on the held-out rows it has no recorded (or ``pilot``) prediction for."""
    scored = score_version(settings, champion, held_out, record=not dry_run, earlier=pilot.by_text if pilot else None)
    get_run_logger().info("champion v%d accuracy %.4f on %d held-out rows (%d scored now, %d from earlier runs)",
                          champion.version, scored.metrics.accuracy, held_out.size, scored.rows_scored,
                          held_out.size - scored.rows_scored)
    return scored


@task(name="score TF-IDF baseline", cache_policy=NO_CACHE, retries=DATABASE_RETRIES,
      retry_delay_seconds=DATABASE_RETRY_DELAYS, retry_condition_fn=database_unreachable)
def score_baseline(settings: Settings, batch: LabeledBatch, held_out: HeldOutSet) -> Scored | None:
    """The baseline to beat, trained from scratch on this run's training rows (seconds)."""
    if not settings.baseline_max_rows:
        return None
    rows = baseline_training_rows(settings, batch)
    scored = score_tfidf(rows, held_out, tuple(settings.labels), settings.seed)
    if scored is not None:
        get_run_logger().info("TF-IDF + logistic regression baseline, trained on %d rows: accuracy %.4f",
                              len(rows), scored.metrics.accuracy)
    return scored


@task(name="behaviour tests", cache_policy=NO_CACHE)
def run_behaviour(
    settings: Settings, challenger: Classifier, champion: ModelVersion | None
) -> BehaviourComparison | None:
    """Run the behaviour suite (``RETRAIN_BEHAVIOUR_SUITE``) on both models; None when none is set."""
    if settings.behaviour_suite is None:
        return None
    comparison = behaviour_of(settings, challenger, champion)
    get_run_logger().info("behaviour suite: challenger passes %d/%d cases%s", sum(comparison.challenger.passed),
                          len(comparison.challenger.passed),
                          f", champion {sum(comparison.champion.passed)}; {len(comparison.regressions)} regressions"
                          if comparison.champion else "")
    return comparison
