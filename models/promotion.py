"""The promotion gate: promote the challenger only when it is better than the champion.

>>> from models.evaluation import evaluate_predictions
>>> champion = evaluate_predictions(["a", "b"], ["a", "a"], ("a", "b"))
>>> challenger = evaluate_predictions(["a", "b"], ["a", "b"], ("a", "b"))
>>> decide(challenger, champion, baseline=champion, min_improvement=0.0).promote
True
"""

from __future__ import annotations

from dataclasses import dataclass

from models.evaluation import Metrics


@dataclass(frozen=True)
class Decision:
    """Whether to promote, and why, in one sentence."""

    promote: bool
    reason: str


def decide(
    challenger: Metrics, champion: Metrics | None, baseline: Metrics, min_improvement: float
) -> Decision:
    """Promote when challenger accuracy > champion accuracy + ``min_improvement``.

    With no champion yet, the first model must beat the majority-class baseline.
    """
    if champion is None:
        if challenger.accuracy > baseline.accuracy:
            return Decision(True, f"first model: accuracy {challenger.accuracy:.4f} beats the "
                                  f"majority-class baseline {baseline.accuracy:.4f}")
        return Decision(False, f"first model: accuracy {challenger.accuracy:.4f} does not beat the "
                               f"majority-class baseline {baseline.accuracy:.4f}")
    if challenger.rows != champion.rows:
        raise ValueError(
            f"champion scored on {champion.rows} rows, challenger on {challenger.rows}: "
            "both must be scored on the same held-out snapshot"
        )
    needed = champion.accuracy + min_improvement
    if challenger.accuracy > needed:
        return Decision(True, f"challenger accuracy {challenger.accuracy:.4f} > champion "
                              f"{champion.accuracy:.4f} + min_improvement {min_improvement:g}")
    return Decision(False, f"challenger accuracy {challenger.accuracy:.4f} <= champion "
                           f"{champion.accuracy:.4f} + min_improvement {min_improvement:g}")
