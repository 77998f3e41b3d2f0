import pytest

from models.evaluation import evaluate_predictions, majority_baseline
from models.promotion import PromotionPolicy, compare_paired, decide

LABELS = ("negative", "positive")
TRUTH = ["negative"] * 6 + ["positive"] * 4


def _with_accuracy(correct: int):
    predicted = [t if i < correct else ("positive" if t == "negative" else "negative") for i, t in enumerate(TRUTH)]
    return evaluate_predictions(TRUTH, predicted, LABELS)


def test_better_challenger_is_promoted():
    assert decide(_with_accuracy(9), _with_accuracy(8), majority_baseline(TRUTH, LABELS), PromotionPolicy()).promote


def test_equal_or_worse_challenger_is_kept_out():
    baseline = majority_baseline(TRUTH, LABELS)
    assert not decide(_with_accuracy(8), _with_accuracy(8), baseline, PromotionPolicy()).promote
    assert not decide(_with_accuracy(7), _with_accuracy(8), baseline, PromotionPolicy()).promote


def test_min_improvement_raises_the_bar():
    baseline = majority_baseline(TRUTH, LABELS)
    decision = decide(_with_accuracy(9), _with_accuracy(8), baseline, PromotionPolicy(min_improvement=0.15))
    assert not decision.promote and "min_improvement 0.15" in decision.reason
    assert decide(_with_accuracy(10), _with_accuracy(8), baseline, PromotionPolicy(min_improvement=0.15)).promote


def test_first_model_must_beat_the_majority_baseline():
    baseline = majority_baseline(TRUTH, LABELS)
    assert baseline.accuracy == 0.6
    assert not decide(_with_accuracy(6), None, baseline, PromotionPolicy()).promote
    assert decide(_with_accuracy(7), None, baseline, PromotionPolicy()).promote


def test_models_scored_on_different_snapshots_are_not_compared():
    other = evaluate_predictions(["negative"], ["negative"], LABELS)
    with pytest.raises(ValueError, match="same held-out snapshot"):
        decide(_with_accuracy(9), other, majority_baseline(TRUTH, LABELS), PromotionPolicy())


def test_metrics_have_per_class_scores_and_confusion_matrix():
    metrics = _with_accuracy(8)
    assert metrics.rows == 10 and metrics.accuracy == 0.8
    assert set(metrics.per_class) == set(LABELS)
    assert sum(map(sum, metrics.confusion)) == 10
    assert metrics.from_dict(metrics.to_dict()) == metrics


def _simulated_pair(rng, rows: int, champion_accuracy: float, challenger_accuracy: float):
    truth = rng.choice(LABELS, size=rows).tolist()

    def predictions(accuracy):
        right = rng.random(rows) < accuracy
        flipped = {"negative": "positive", "positive": "negative"}
        return [t if ok else flipped[t] for t, ok in zip(truth, right, strict=True)]

    return truth, predictions(champion_accuracy), predictions(challenger_accuracy)


def _promoted(truth, champion, challenger, *policies, seed=0) -> list[bool]:
    paired = compare_paired(truth, champion, challenger, seed=seed, resamples=50)
    scores = (evaluate_predictions(truth, challenger, LABELS), evaluate_predictions(truth, champion, LABELS),
              majority_baseline(truth, LABELS))
    return [decide(*scores, policy, paired).promote for policy in policies]


@pytest.mark.slow
def test_significance_gate_promotes_a_null_challenger_at_most_alpha_of_the_time():
    """A challenger no better than the champion (same accuracy, independent errors), over 1000 seeds."""
    import numpy as np

    alpha, trials = 0.05, 1000
    policies = (PromotionPolicy(gate="significance", alpha=alpha), PromotionPolicy())
    outcomes = np.array([
        _promoted(*_simulated_pair(np.random.default_rng(seed), 300, 0.85, 0.85), *policies, seed=seed)
        for seed in range(trials)
    ])
    significance_rate, plain_rate = outcomes.mean(axis=0)
    assert significance_rate <= alpha + 2 * (alpha * (1 - alpha) / trials) ** 0.5
    assert plain_rate > 0.35  # the plain rule is fooled by noise about half the time


def test_significance_gate_promotes_a_clearly_better_challenger():
    import numpy as np

    truth, champion, challenger = _simulated_pair(np.random.default_rng(1), 600, 0.75, 0.90)
    assert _promoted(truth, champion, challenger, PromotionPolicy(gate="significance")) == [True]


def test_paired_comparison_counts_discordant_rows_and_brackets_the_difference():
    import numpy as np

    truth, champion, challenger = _simulated_pair(np.random.default_rng(2), 1000, 0.80, 0.86)
    paired = compare_paired(truth, champion, challenger, seed=0)
    champion_right = np.array(champion) == np.array(truth)
    challenger_right = np.array(challenger) == np.array(truth)
    assert paired.challenger_only_correct == int(np.sum(challenger_right & ~champion_right))
    assert paired.champion_only_correct == int(np.sum(champion_right & ~challenger_right))
    assert paired.ci_low < paired.difference < paired.ci_high
    assert paired.difference == pytest.approx(challenger_right.mean() - champion_right.mean())


def test_recall_guard_blocks_a_challenger_that_sacrifices_a_class():
    truth = ["negative"] * 50 + ["positive"] * 50
    champion = ["negative"] * 40 + ["positive"] * 10 + ["positive"] * 40 + ["negative"] * 10  # 80%
    challenger = ["negative"] * 50 + ["positive"] * 32 + ["negative"] * 18  # 82%, positive recall 0.64
    args = (evaluate_predictions(truth, challenger, LABELS), evaluate_predictions(truth, champion, LABELS),
            majority_baseline(truth, LABELS))
    assert decide(*args, PromotionPolicy()).promote
    guarded = decide(*args, PromotionPolicy(max_recall_drop=0.10))
    assert not guarded.promote and "positive recall drops 0.160" in guarded.reason
