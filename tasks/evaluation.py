"""The evaluation step: champion and challenger scored on the same held-out snapshot."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from models.classifier import Classifier, load_classifier, predict_proba
from models.evaluation import Metrics, evaluate_predictions
from models.registry import ModelVersion
from retrain.store import HeldOutSet


def score(classifier: Classifier, held_out: HeldOutSet) -> Metrics:
    """Metrics of a classifier on a held-out snapshot."""
    probabilities = predict_proba(classifier, classifier.encode(held_out.frame["text"].tolist()))
    predicted = [classifier.labels[i] for i in probabilities.argmax(axis=1)]
    return evaluate_predictions(held_out.frame["label"].tolist(), predicted, classifier.labels)


@task(name="score challenger", cache_policy=NO_CACHE)
def score_challenger(classifier: Classifier, held_out: HeldOutSet) -> Metrics:
    metrics = score(classifier, held_out)
    get_run_logger().info("challenger accuracy %.4f on %d held-out rows", metrics.accuracy, metrics.rows)
    return metrics


@task(name="score champion", cache_policy=NO_CACHE)
def score_champion(champion: ModelVersion, held_out: HeldOutSet) -> Metrics:
    metrics = score(load_classifier(champion.artifact_uri, champion.artifact_sha256), held_out)
    get_run_logger().info("champion v%d accuracy %.4f on %d held-out rows", champion.version,
                          metrics.accuracy, metrics.rows)
    return metrics
