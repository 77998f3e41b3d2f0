"""The promotion gate: promote the challenger only when it is better than the champion.

The plain rule compares accuracies. Held-out sets of a few hundred rows make that noisy,
so stricter checks can be switched on: an exact McNemar test on the rows where the
two models disagree (is the challenger *significantly* better?), a per-class guard
(no class's recall may drop by more than a bound) and a per-slice guard (no source or week
of arrival may lose more than a bound). With a behaviour suite, a challenger that fails more
of the cases the champion passes than a tolerance is refused. The accuracy difference is
always reported with a paired bootstrap 95% interval. The first model must beat the TF-IDF +
logistic regression baseline (or, if so configured or when it is absent, the majority class).

>>> from models.evaluation import evaluate_predictions
>>> champion = evaluate_predictions(["a", "b"], ["a", "a"], ("a", "b"))
>>> challenger = evaluate_predictions(["a", "b"], ["a", "b"], ("a", "b"))
>>> decide(challenger, champion, baseline=champion, policy=PromotionPolicy()).promote
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy.stats import binomtest

from data.settings import Settings
from models.behaviour import BehaviourComparison, behaviour_regressions
from models.evaluation import Metrics
from models.scores import Scores
from models.slices import Slices, slice_drops

Gate = Literal["accuracy", "significance"]


@dataclass(frozen=True)
class PromotionPolicy:
    """What a challenger must show to replace the champion."""

    min_improvement: float = 0.0
    gate: Gate = "accuracy"  # "significance" adds the McNemar test
    alpha: float = 0.05
    max_recall_drop: float | None = None  # e.g. 0.05: no class may lose more than 5 points of recall
    max_slice_drop: float | None = None  # e.g. 0.05: no source or week may lose more than 5 points
    min_slice_rows: int = 50  # smaller slices are too noisy for the slice guard
    max_behaviour_regressions: float = 0.05  # share of the champion's passed suite cases the challenger may fail
    behaviour_net_of_fixes: bool = False  # count those failures less the cases the challenger newly passes
    first_model_baseline: Literal["tfidf", "majority"] = "tfidf"


def policy_for(settings: Settings) -> PromotionPolicy:
    """The promotion policy the settings ask for."""
    return PromotionPolicy(min_improvement=settings.min_improvement, gate=settings.promotion_gate,
                           alpha=settings.alpha, max_recall_drop=settings.max_recall_drop,
                           max_slice_drop=settings.max_slice_drop, min_slice_rows=settings.min_slice_rows,
                           max_behaviour_regressions=settings.max_behaviour_regressions,
                           behaviour_net_of_fixes=settings.behaviour_net_of_fixes,
                           first_model_baseline=settings.first_model_baseline)


@dataclass(frozen=True)
class PairedComparison:
    """Champion and challenger on the same rows: who got which rows right."""

    rows: int
    challenger_only_correct: int
    champion_only_correct: int
    difference: float  # challenger accuracy minus champion accuracy
    ci_low: float
    ci_high: float
    p_value: float  # exact one-sided McNemar: P(at least this many challenger-only wins | no difference)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """Whether to promote, and every reason, in words."""

    promote: bool
    reason: str
    paired: PairedComparison | None = None


def compare_paired(
    truth: Sequence[str],
    champion_predictions: Sequence[str],
    challenger_predictions: Sequence[str],
    seed: int = 0,
    resamples: int = 2000,
) -> PairedComparison:
    """McNemar's exact test and a paired bootstrap interval for the accuracy difference.

    >>> c = compare_paired(list("aaaa"), list("abab"), list("aaaa"))
    >>> c.challenger_only_correct, c.champion_only_correct, c.difference
    (2, 0, 0.5)
    """
    truth_a = np.asarray(truth)
    champion_right = np.asarray(champion_predictions) == truth_a
    challenger_right = np.asarray(challenger_predictions) == truth_a
    if not (len(truth_a) == len(champion_right) == len(challenger_right)) or len(truth_a) == 0:
        raise ValueError("paired comparison needs the same, non-empty rows for both models")
    wins = int(np.sum(challenger_right & ~champion_right))
    losses = int(np.sum(champion_right & ~challenger_right))
    p_value = 1.0 if wins + losses == 0 else float(binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue)
    low, high = paired_bootstrap_interval(wins, losses, len(truth_a), resamples=resamples, seed=seed)
    return PairedComparison(len(truth_a), wins, losses, (wins - losses) / len(truth_a), low, high, p_value)


def paired_bootstrap_interval(wins: int, losses: int, rows: int, resamples: int = 2000, seed: int = 0,
                              confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the accuracy difference, in memory that does not grow with ``rows``.

    A resample of the rows with replacement changes the difference only through how many challenger-only
    (``wins``) and champion-only (``losses``) rows it draws, and those counts are multinomial: drawing
    them directly is the row bootstrap exactly, in ``resamples`` x 3 integers instead of
    ``resamples`` x ``rows`` (1.6 GB at 100k rows).

    >>> low, high = paired_bootstrap_interval(30, 10, 400)
    >>> low < 0.05 < high
    True
    """
    if rows <= 0 or wins < 0 or losses < 0 or wins + losses > rows:
        raise ValueError(f"{wins} wins and {losses} losses are not counts of {rows} rows")
    shares = np.array([wins, losses, rows - wins - losses], dtype=np.float64) / rows
    counts = np.random.default_rng(seed).multinomial(rows, shares, size=resamples)
    boot = (counts[:, 0] - counts[:, 1]) / rows
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(boot, [tail, 100 - tail])
    return float(low), float(high)


def _recall_drops(challenger: Metrics, champion: Metrics, bound: float) -> list[str]:
    return [
        f"{label} recall drops {champion.per_class[label].recall - m.recall:.3f} "
        f"({champion.per_class[label].recall:.3f} -> {m.recall:.3f}) > {bound:g}"
        for label, m in challenger.per_class.items()
        if label in champion.per_class and champion.per_class[label].recall - m.recall > bound
    ]


def decide(
    challenger: Metrics,
    champion: Metrics | None,
    baseline: Metrics,
    policy: PromotionPolicy,
    paired: PairedComparison | None = None,
    tfidf: Metrics | None = None,
    slices: tuple[Slices, Slices] | None = None,
    behaviour: BehaviourComparison | None = None,
) -> Decision:
    """Apply the policy; with no champion yet, the first model must beat the baseline.

    ``baseline`` is the majority class; ``tfidf`` the TF-IDF + logistic regression baseline;
    ``slices`` the challenger's and the champion's per-slice scores; ``behaviour`` both models
    on the behaviour suite.
    """
    if champion is None:
        floor, name = baseline, "majority-class"
        if policy.first_model_baseline == "tfidf" and tfidf is not None:
            floor, name = tfidf, "TF-IDF + logistic regression"
        beats = challenger.accuracy > floor.accuracy
        verb = "beats" if beats else "does not beat"
        return Decision(beats, f"first model: accuracy {challenger.accuracy:.4f} {verb} the "
                               f"{name} baseline {floor.accuracy:.4f}")
    if challenger.rows != champion.rows:
        raise ValueError(
            f"champion scored on {champion.rows} rows, challenger on {challenger.rows}: "
            "both must be scored on the same held-out snapshot"
        )
    needed = champion.accuracy + policy.min_improvement
    better = challenger.accuracy > needed
    reasons = [f"challenger accuracy {challenger.accuracy:.4f} {'>' if better else '<='} champion "
               f"{champion.accuracy:.4f} + min_improvement {policy.min_improvement:g}"]
    blocked = not better
    if paired is not None:
        reasons.append(f"difference {paired.difference:+.4f} (95% CI {paired.ci_low:+.4f} to {paired.ci_high:+.4f}), "
                       f"McNemar p={paired.p_value:.4f} on {paired.challenger_only_correct}/"
                       f"{paired.champion_only_correct} discordant rows")
    if policy.gate == "significance":
        if paired is None:
            raise ValueError("the significance gate needs the paired comparison of both models' predictions")
        significant = paired.p_value < policy.alpha
        reasons.append(f"{'significant' if significant else 'not significant'} at alpha {policy.alpha:g}")
        blocked = blocked or not significant
    if policy.max_recall_drop is not None:
        drops = _recall_drops(challenger, champion, policy.max_recall_drop)
        reasons += drops or [f"no class recall drops more than {policy.max_recall_drop:g}"]
        blocked = blocked or bool(drops)
    if policy.max_slice_drop is not None and slices is not None:
        drops = slice_drops(slices[0], slices[1], policy.max_slice_drop, policy.min_slice_rows)
        reasons += drops or [f"no slice of {policy.min_slice_rows}+ rows drops more than {policy.max_slice_drop:g}"]
        blocked = blocked or bool(drops)
    if behaviour is not None and behaviour.champion is not None:
        failing = behaviour_regressions(behaviour, policy.max_behaviour_regressions, policy.behaviour_net_of_fixes)
        reasons += failing or [f"behaviour: {behaviour.summary()} (within tolerance "
                               f"{policy.max_behaviour_regressions:g} of {behaviour.champion_firm} cases)"]
        blocked = blocked or bool(failing)
    return Decision(not blocked, "; ".join(reasons), paired)


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
