"""The evaluation steps: champion, challenger and the TF-IDF baseline scored on the same held-out
snapshot (overall and per slice), and both models run through the behaviour suite.

The champion is scored only on held-out rows it has no recorded prediction for: the held-out set
grows by each week's new test rows, and the champion was scored on the older ones in earlier runs
(as a challenger, or as the champion).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from data.consumed import trained_rows
from data.held_out import HeldOutSet
from data.pull import LabeledBatch
from data.settings import Settings
from data.store import connect
from models import registry
from models.artifacts import open_version
from models.baseline import fit_tfidf_baseline
from models.behaviour import BehaviourComparison, compare, load_suite, run_suite
from models.classifier import Classifier, predict_proba
from models.evaluation import Metrics, evaluate_predictions
from models.hardware import resolve_precision
from models.registry import ModelVersion, text_key
from models.slices import Slices, slice_scores


@dataclass(frozen=True)
class Scored:
    """One model's metrics on a held-out snapshot, and its prediction for every row (for paired tests)."""

    metrics: Metrics
    predictions: list[str]
    rows_scored: int = 0  # rows the model actually ran on; the rest came from recorded predictions
    by_text: dict[str, str] = field(default_factory=dict, repr=False)  # text_key -> predicted label
    slices: Slices = field(default_factory=dict)  # accuracy per source and per week of arrival


def score(
    classifier: Classifier | None, held_out: HeldOutSet, batch_size: int = 64,
    known: Mapping[str, str] | None = None, labels: tuple[str, ...] | None = None,
) -> Scored:
    """Score a classifier on a held-out snapshot, running it only on texts ``known`` has no prediction for.

    ``classifier`` may be None when every text is known; ``labels`` defaults to the classifier's.
    """
    texts = held_out.frame["text"].tolist()
    keys = [text_key(text) for text in texts]
    by_text = dict(known or {})
    todo = list({key: i for i, key in enumerate(keys) if key not in by_text}.values())
    if todo:
        if classifier is None:
            raise ValueError(f"{len(todo)} held-out rows have no recorded prediction and no model was given")
        probabilities = predict_proba(classifier, classifier.encode([texts[i] for i in todo]), batch_size)
        by_text.update({keys[i]: classifier.labels[j] for i, j in zip(todo, probabilities.argmax(axis=1), strict=True)})
    predicted = [by_text[key] for key in keys]
    labels = labels or classifier.labels
    metrics = evaluate_predictions(held_out.frame["label"].tolist(), predicted, labels)
    return Scored(metrics, predicted, rows_scored=len(todo), by_text={key: by_text[key] for key in keys},
                  slices=slice_scores(held_out.frame, predicted))


def baseline_training_rows(settings: Settings, batch: LabeledBatch) -> pd.DataFrame:
    """The rows the TF-IDF baseline trains on: every row the champion's lineage trained on and this
    run's new training rows (quarantined rows are in neither), the newest ``baseline_max_rows`` of
    them. The same rows a from-scratch retrain would use; never a held-out row."""
    earlier = trained_rows(connect(settings), settings, batch.lineage)
    new = batch.training_rows
    rows = pd.concat([earlier, new[earlier.columns]], ignore_index=True) if len(earlier) else new
    rows = rows.sort_values(["labeled_at", "id"])
    return rows.iloc[-settings.baseline_max_rows:] if settings.baseline_max_rows else rows.iloc[:0]


def score_tfidf(
    training_rows: pd.DataFrame, held_out: HeldOutSet, labels: tuple[str, ...], seed: int = 0
) -> Scored | None:
    """Fit TF-IDF + logistic regression on exactly ``training_rows`` and score it on the held-out set;
    None when there is nothing (or only one label) to train it on."""
    if training_rows.empty or training_rows["label"].nunique() < 2:
        return None
    model = fit_tfidf_baseline(training_rows["text"].tolist(), training_rows["label"].tolist(), seed=seed)
    predicted = [str(label) for label in model.predict(held_out.frame["text"].tolist())]
    metrics = evaluate_predictions(held_out.frame["label"].tolist(), predicted, labels)
    return Scored(metrics, predicted, rows_scored=held_out.size, slices=slice_scores(held_out.frame, predicted))


def score_version(settings: Settings, version: ModelVersion, held_out: HeldOutSet, record: bool = True) -> Scored:
    """Score a registered version, reusing and then (``record``) recording its predictions by text."""
    engine = connect(settings)
    known = registry.cached_predictions(engine, version.version, map(text_key, held_out.frame["text"]))
    classifier = None
    if len(known) < held_out.frame["text"].nunique():
        classifier = open_version(version.artifact_uri, version.artifact_sha256, settings.cache_dir,
                                  dtype=resolve_precision(settings.precision))
    scored = score(classifier, held_out, settings.eval_batch_size, known, labels=version.labels)
    if record:
        registry.record_predictions(engine, version.version, scored.by_text)
    return scored


@task(name="score challenger", cache_policy=NO_CACHE)
def score_challenger(settings: Settings, classifier: Classifier, held_out: HeldOutSet) -> Scored:
    scored = score(classifier, held_out, settings.eval_batch_size)
    get_run_logger().info("challenger accuracy %.4f on %d held-out rows", scored.metrics.accuracy, held_out.size)
    return scored


@task(name="score champion", cache_policy=NO_CACHE)
def score_champion(settings: Settings, champion: ModelVersion, held_out: HeldOutSet, dry_run: bool = False) -> Scored:
    scored = score_version(settings, champion, held_out, record=not dry_run)
    get_run_logger().info("champion v%d accuracy %.4f on %d held-out rows (%d scored now, %d from earlier runs)",
                          champion.version, scored.metrics.accuracy, held_out.size, scored.rows_scored,
                          held_out.size - scored.rows_scored)
    return scored


@task(name="score TF-IDF baseline", cache_policy=NO_CACHE)
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


def behaviour_of(settings: Settings, challenger: Classifier, champion: ModelVersion | None) -> BehaviourComparison:
    """Both models on the settings' behaviour suite (which must be set)."""
    suite = load_suite(settings.behaviour_suite, challenger.labels, settings.seed)

    def runner(classifier: Classifier):
        return lambda texts: predict_proba(classifier, classifier.encode(texts), settings.eval_batch_size)

    mine = run_suite(suite, runner(challenger), challenger.labels)
    theirs = None
    if champion is not None:
        model = open_version(champion.artifact_uri, champion.artifact_sha256, settings.cache_dir,
                             dtype=resolve_precision(settings.precision))
        theirs = run_suite(suite, runner(model), model.labels)
    return compare(mine, theirs)


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
