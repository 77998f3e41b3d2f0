"""The baseline to beat: TF-IDF features and a logistic regression, trained from scratch every run.

What a competent engineer would try before a BERT: word 1-2-grams and character 2-5-grams
(which survive typos and hashtags), sublinear term frequencies, and the regularisation
strength chosen by cross-validation on the training rows only. It trains in seconds on a few
thousand rows, so every run can show what the fine-tuned model buys over it.

>>> texts = ["good film", "great film", "bad film", "awful film"] * 5
>>> labels = ["positive", "positive", "negative", "negative"] * 5
>>> model = fit_tfidf_baseline(texts, labels)
>>> model.predict(["a good film", "an awful film"]).tolist()
['positive', 'negative']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.pipeline import FeatureUnion, Pipeline

from data.consumed import trained_rows
from data.held_out import HeldOutSet
from data.pull import LabeledBatch
from data.settings import Settings
from data.store import connect
from models.evaluation import evaluate_predictions
from models.scores import Scored
from models.slices import slice_scores

C_GRID = (1.0, 4.0, 16.0)  # inverse regularisation strengths tried by cross-validation
# lbfgs stops when the gradient is this small. 1e-3, not scikit-learn's 1e-4: the cross-validated
# fit (ten fits: 3 folds x 3 Cs, then a refit) of 10,000 tweets takes 15 s instead of 55 (3.6x), of
# 20,000 31 s instead of 83 (2.7x), at the same held-out accuracy or better (0.756 vs 0.754 and
# 0.766 vs 0.760 on 3,000 other tweets; bench/tfidf_bench.py, 2 shared cores).
TOLERANCE = 1e-3


def fit_tfidf_baseline(texts: Sequence[str], labels: Sequence[str], seed: int = 0,
                       tolerance: float = TOLERANCE) -> Pipeline:
    """Fit TF-IDF + logistic regression on exactly these rows (C by 3-fold cross-validation when
    every class has 3 rows to spare, else C=4)."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if len(set(labels)) < 2:
        raise ValueError("the TF-IDF baseline needs training rows of at least two labels")
    features = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, lowercase=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)),
    ])
    folds = min(3, min(Counter(labels).values()))
    classifier = (LogisticRegressionCV(Cs=list(C_GRID), cv=folds, max_iter=2000, tol=tolerance, random_state=seed,
                                       scoring="accuracy", l1_ratios=(0.0,), use_legacy_attributes=False)
                  if folds >= 2 else LogisticRegression(C=4.0, max_iter=2000, tol=tolerance, random_state=seed))
    return Pipeline([("tfidf", features), ("lr", classifier)]).fit(list(texts), list(labels))


def baseline_training_rows(settings: Settings, batch: LabeledBatch) -> pd.DataFrame:
    """The rows the TF-IDF baseline trains on: every row the champion's lineage trained on and this
    run's new training rows (quarantined rows are in neither), the newest ``baseline_max_rows`` of
    them. The same rows a from-scratch retrain would use; never a held-out row."""
    if not settings.baseline_max_rows:
        return batch.training_rows.iloc[:0]
    # The newest of the union are among the newest of each part: read no more of the lineage's rows.
    earlier = trained_rows(connect(settings), settings, batch.lineage, newest=settings.baseline_max_rows)
    new = batch.training_rows
    rows = pd.concat([earlier, new[earlier.columns]], ignore_index=True) if len(earlier) else new
    rows = rows.sort_values(["labeled_at", "id"])
    return rows.iloc[-settings.baseline_max_rows:]


def score_tfidf(
    training_rows: pd.DataFrame, held_out: HeldOutSet, labels: tuple[str, ...], seed: int = 0
) -> Scored | None:
    """Fit TF-IDF + logistic regression on exactly ``training_rows`` and score it on the held-out set;
    None when there is nothing (or only one label) to train it on."""
    if training_rows.empty or training_rows["label"].nunique() < 2:
        return None
    model = fit_tfidf_baseline(training_rows["text"].tolist(), training_rows["label"].tolist(), seed=seed)
    predicted = [str(label) for label in model.predict(held_out.frame["text"].tolist())]
    metrics = evaluate_predictions(held_out.frame["label"].tolist(), predicted, labels)
    return Scored(metrics, predicted, rows_scored=held_out.size, slices=slice_scores(held_out.frame, predicted))
