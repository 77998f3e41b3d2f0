import pytest

from models.evaluation import evaluate_predictions, majority_baseline
from models.promotion import decide

LABELS = ("negative", "positive")
TRUTH = ["negative"] * 6 + ["positive"] * 4


def _with_accuracy(correct: int):
    predicted = [t if i < correct else ("positive" if t == "negative" else "negative") for i, t in enumerate(TRUTH)]
    return evaluate_predictions(TRUTH, predicted, LABELS)


def test_better_challenger_is_promoted():
    assert decide(_with_accuracy(9), _with_accuracy(8), majority_baseline(TRUTH, LABELS), 0.0).promote


def test_equal_or_worse_challenger_is_kept_out():
    baseline = majority_baseline(TRUTH, LABELS)
    assert not decide(_with_accuracy(8), _with_accuracy(8), baseline, 0.0).promote
    assert not decide(_with_accuracy(7), _with_accuracy(8), baseline, 0.0).promote


def test_min_improvement_raises_the_bar():
    baseline = majority_baseline(TRUTH, LABELS)
    decision = decide(_with_accuracy(9), _with_accuracy(8), baseline, min_improvement=0.15)
    assert not decision.promote and "min_improvement 0.15" in decision.reason
    assert decide(_with_accuracy(10), _with_accuracy(8), baseline, min_improvement=0.15).promote


def test_first_model_must_beat_the_majority_baseline():
    baseline = majority_baseline(TRUTH, LABELS)
    assert baseline.accuracy == 0.6
    assert not decide(_with_accuracy(6), None, baseline, 0.0).promote
    assert decide(_with_accuracy(7), None, baseline, 0.0).promote


def test_models_scored_on_different_snapshots_are_not_compared():
    other = evaluate_predictions(["negative"], ["negative"], LABELS)
    with pytest.raises(ValueError, match="same held-out snapshot"):
        decide(_with_accuracy(9), other, majority_baseline(TRUTH, LABELS), 0.0)


def test_metrics_have_per_class_scores_and_confusion_matrix():
    metrics = _with_accuracy(8)
    assert metrics.rows == 10 and metrics.accuracy == 0.8
    assert set(metrics.per_class) == set(LABELS)
    assert sum(map(sum, metrics.confusion)) == 10
    assert metrics.from_dict(metrics.to_dict()) == metrics
