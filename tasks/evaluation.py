"""The evaluation step: champion and challenger scored on the same held-out snapshot.

The champion is scored only on held-out rows it has no recorded prediction for: the held-out set
grows by each week's new test rows, and the champion was scored on the older ones in earlier runs
(as a challenger, or as the champion).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from models import registry
from models.artifacts import open_version
from models.classifier import Classifier, predict_proba
from models.evaluation import Metrics, evaluate_predictions
from models.hardware import resolve_precision
from models.registry import ModelVersion, text_key
from retrain.settings import Settings
from retrain.store import HeldOutSet, connect


@dataclass(frozen=True)
class Scored:
    """One model's metrics on a held-out snapshot, and its prediction for every row (for paired tests)."""

    metrics: Metrics
    predictions: list[str]
    rows_scored: int = 0  # rows the model actually ran on; the rest came from recorded predictions
    by_text: dict[str, str] = field(default_factory=dict, repr=False)  # text_key -> predicted label


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
    return Scored(metrics, predicted, rows_scored=len(todo), by_text={key: by_text[key] for key in keys})


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
