"""Scoring on the held-out set: accuracy, per-class precision/recall/F1, confusion matrix.

>>> m = evaluate_predictions(["a", "b", "b"], ["a", "b", "a"], labels=("a", "b"))
>>> round(m.accuracy, 3), m.confusion
(0.667, [[1, 0], [1, 1]])
>>> majority_baseline(["a", "b", "b"], labels=("a", "b")).accuracy
0.6666666666666666
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    """How one model did on one held-out snapshot."""

    accuracy: float
    rows: int
    per_class: dict[str, ClassMetrics]
    confusion: list[list[int]]  # rows: true label, columns: predicted label, in label order

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Metrics:
        per_class = {name: ClassMetrics(**values) for name, values in data["per_class"].items()}
        return cls(accuracy=data["accuracy"], rows=data["rows"], per_class=per_class,
                   confusion=data["confusion"])


def evaluate_predictions(
    true_labels: Sequence[str], predicted_labels: Sequence[str], labels: Sequence[str]
) -> Metrics:
    """Metrics of predicted label names against true ones."""
    if len(true_labels) != len(predicted_labels):
        raise ValueError(f"{len(true_labels)} true labels but {len(predicted_labels)} predictions")
    if len(true_labels) == 0:
        raise ValueError("the held-out set is empty: nothing to score the models on")
    label_list = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        true_labels, predicted_labels, labels=label_list, zero_division=0
    )
    per_class = {
        name: ClassMetrics(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
        for i, name in enumerate(label_list)
    }
    return Metrics(
        accuracy=float(accuracy_score(true_labels, predicted_labels)),
        rows=len(true_labels),
        per_class=per_class,
        confusion=confusion_matrix(true_labels, predicted_labels, labels=label_list).tolist(),
    )


def majority_baseline(true_labels: Sequence[str], labels: Sequence[str]) -> Metrics:
    """What always answering the held-out set's most frequent label scores (a floor to beat)."""
    most_common = Counter(true_labels).most_common(1)[0][0] if true_labels else labels[0]
    return evaluate_predictions(true_labels, [most_common] * len(true_labels), labels)
