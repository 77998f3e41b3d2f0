"""A run's scores: each model on the held-out snapshot (overall, per slice, per row), the floors
to beat, and both models on the behaviour suite. ``models.scoring`` runs the models to get them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from data.held_out import HeldOutSet
from models.behaviour import BehaviourComparison
from models.evaluation import Metrics, majority_baseline
from models.evaluation_sample import SamplePlan
from models.slices import Slices


@dataclass(frozen=True)
class Scored:
    """One model's metrics on a held-out snapshot, and its prediction for every row (for paired tests)."""

    metrics: Metrics
    predictions: list[str]
    rows_scored: int = 0  # rows the model actually ran on; the rest came from recorded predictions
    by_text: dict[str, str] = field(default_factory=dict, repr=False)  # text_key -> predicted label
    slices: Slices = field(default_factory=dict)  # accuracy per source and per week of arrival


@dataclass(frozen=True)
class Scores:
    """Both models and the floors, on one held-out snapshot, and both on the behaviour suite."""

    truth: list[str]
    challenger: Scored
    champion: Scored | None
    baseline: Metrics  # the majority class
    tfidf: Scored | None = None  # TF-IDF + logistic regression trained this run
    behaviour: BehaviourComparison | None = None
    sample: SamplePlan | None = None  # how many of the held-out rows were scored, and why


def run_scores(
    held_out: HeldOutSet, labels: tuple[str, ...], challenger: Scored, champion: Scored | None,
    tfidf: Scored | None = None, behaviour: BehaviourComparison | None = None, sample: SamplePlan | None = None,
) -> Scores:
    """A run's scores on the rows of ``held_out`` (the evaluation sample ``sample`` planned), with always
    answering their most frequent label as the floor."""
    truth = held_out.frame["label"].tolist()
    return Scores(truth=truth, challenger=challenger, champion=champion, baseline=majority_baseline(truth, labels),
                  tfidf=tfidf, behaviour=behaviour, sample=sample)
