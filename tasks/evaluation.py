"""The evaluation step: champion and challenger scored on the same held-out snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from models.artifacts import open_version
from models.classifier import Classifier, predict_proba
from models.evaluation import Metrics, evaluate_predictions
from models.registry import ModelVersion
from retrain.settings import Settings
from retrain.store import HeldOutSet


@dataclass(frozen=True)
class Scored:
    """One model's metrics on a held-out snapshot, and its prediction for every row (for paired tests)."""

    metrics: Metrics
    predictions: list[str]


def score(classifier: Classifier, held_out: HeldOutSet) -> Scored:
    """Score a classifier on a held-out snapshot."""
    probabilities = predict_proba(classifier, classifier.encode(held_out.frame["text"].tolist()))
    predicted = [classifier.labels[i] for i in probabilities.argmax(axis=1)]
    return Scored(evaluate_predictions(held_out.frame["label"].tolist(), predicted, classifier.labels), predicted)


@task(name="score challenger", cache_policy=NO_CACHE)
def score_challenger(classifier: Classifier, held_out: HeldOutSet) -> Scored:
    scored = score(classifier, held_out)
    get_run_logger().info("challenger accuracy %.4f on %d held-out rows", scored.metrics.accuracy, held_out.size)
    return scored


@task(name="score champion", cache_policy=NO_CACHE)
def score_champion(settings: Settings, champion: ModelVersion, held_out: HeldOutSet) -> Scored:
    scored = score(open_version(champion.artifact_uri, champion.artifact_sha256, settings.cache_dir), held_out)
    get_run_logger().info("champion v%d accuracy %.4f on %d held-out rows", champion.version,
                          scored.metrics.accuracy, held_out.size)
    return scored
