"""Scoring: a model run on the held-out snapshot (overall and per slice) and on the behaviour suite.

The champion is scored only on held-out rows it has no recorded prediction for: the held-out set
grows by each week's new test rows, and the champion was scored on the older ones in earlier runs
(as a challenger, or as the champion).
"""

from __future__ import annotations

from collections.abc import Mapping

from data.held_out import HeldOutSet
from data.settings import Settings
from data.store import connect
from models.behaviour import BehaviourComparison, compare, load_suite, run_suite
from models.classifier import Classifier
from models.evaluation import evaluate_predictions
from models.predictions import cached_predictions, record_predictions, text_key
from models.registry import ModelVersion
from models.scores import Scored
from models.serving import Scorer, open_for_scoring, probabilities_of
from models.slices import slice_scores


def score(
    model: Classifier | Scorer | None, held_out: HeldOutSet, batch_size: int = 64,
    known: Mapping[str, str] | None = None, labels: tuple[str, ...] | None = None,
) -> Scored:
    """Score a model on a held-out snapshot, running it only on texts ``known`` has no prediction for.

    ``model`` may be None when every text is known; ``labels`` defaults to the model's.
    """
    texts = held_out.frame["text"].tolist()
    keys = [text_key(text) for text in texts]
    by_text = dict(known or {})
    todo = list({key: i for i, key in enumerate(keys) if key not in by_text}.values())
    if todo:
        if model is None:
            raise ValueError(f"{len(todo)} held-out rows have no recorded prediction and no model was given")
        # In TensorFlow at the run's precision however few the rows: champion and challenger scored alike.
        probabilities = probabilities_of(model, [texts[i] for i in todo], batch_size, numpy_for_one_batch=False)
        by_text.update({keys[i]: model.labels[j] for i, j in zip(todo, probabilities.argmax(axis=1), strict=True)})
    predicted = [by_text[key] for key in keys]
    labels = labels or model.labels
    metrics = evaluate_predictions(held_out.frame["label"].tolist(), predicted, labels)
    return Scored(metrics, predicted, rows_scored=len(todo), by_text={key: by_text[key] for key in keys},
                  slices=slice_scores(held_out.frame, predicted))


def score_version(settings: Settings, version: ModelVersion, held_out: HeldOutSet, record: bool = True,
                  earlier: Mapping[str, str] | None = None) -> Scored:
    """Score a registered version, reusing and then (``record``) recording its predictions by text;
    ``earlier`` adds predictions made this run and not recorded (a dry run's pilot)."""
    engine = connect(settings)
    known = {**cached_predictions(engine, version.version, map(text_key, held_out.frame["text"])), **(earlier or {})}
    model = None
    if len(known) < held_out.frame["text"].nunique():
        model = open_for_scoring(settings, version)
    scored = score(model, held_out, settings.eval_batch_size, known, labels=version.labels)
    if record:
        record_predictions(engine, version.version, scored.by_text)
    return scored


def behaviour_of(settings: Settings, challenger: Classifier, champion: ModelVersion | None) -> BehaviourComparison:
    """Both models on the settings' behaviour suite (which must be set)."""
    suite = load_suite(settings.behaviour_suite, challenger.labels, settings.seed)

    def runner(model: Classifier | Scorer):
        return lambda texts: probabilities_of(model, texts, settings.eval_batch_size, numpy_for_one_batch=False)

    mine = run_suite(suite, runner(challenger), challenger.labels)
    theirs = None
    if champion is not None:
        model = open_for_scoring(settings, champion)
        theirs = run_suite(suite, runner(model), model.labels)
    return compare(mine, theirs, settings.behaviour_margin)
