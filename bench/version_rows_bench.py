"""Does the pipeline lose accuracy? Fresh fine-tunes on exactly the rows a registered version trained on.

A challenger is one fine-tune, and at 1,000-3,000 rows one fine-tune's seed moves held-out accuracy by
points. This bench reads, from a retrain home (a demo folder, say), the rows a version's lineage trained
on (replayed rows too) and the held-out set it was scored on, fine-tunes a fresh MiniLM on those rows
for every seed of every arm (an arm: the head and the share of rows held back for early stopping),
and prints each accuracy, each arm's mean and standard deviation, the version's own accuracy and
TF-IDF + logistic regression on the same rows. If the version reads near the arms' mean, the pipeline
(weekly mixing, replay, quarantine, the run's early-stopping rows) costs nothing a fresh fine-tune keeps::

    RETRAIN_SEED=3 .venv/bin/retrain demo --keep-neutral --workdir /tmp/demo3
    RETRAIN_HOME=/tmp/demo3 .venv/bin/python bench/version_rows_bench.py --version 5 --seeds 3 1337 1 2 \\
        --arms cls:0.1 cls:0 mean:0.1 mean:0

Not a test: each arm and seed fine-tunes MiniLM (about a minute on 2,000 rows on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lr_bench import accuracy_of  # noqa: E402  (run as a script: bench/ is on the path)

from data.settings import Settings  # noqa: E402
from data.store import connect  # noqa: E402
from models import registry  # noqa: E402
from models.baseline import score_tfidf  # noqa: E402
from models.training import TrainingConfig  # noqa: E402
from retrain.demo import version_rows  # noqa: E402


def parse_arm(text: str) -> tuple[str, float]:
    """'mean:0.1' -> ('mean', 0.1): a head (``RETRAIN_POOLING``) and an early-stopping share."""
    head, _, share = text.partition(":")
    if head not in ("cls", "mean") or not share:
        raise argparse.ArgumentTypeError(f"arm {text!r}: expected HEAD:SHARE, HEAD cls or mean, e.g. mean:0.1")
    return head, float(share)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--version", type=int, required=True, help="a registered version of RETRAIN_HOME")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 1337, 1, 2])
    parser.add_argument("--arms", type=parse_arm, nargs="+", default=[("cls", 0.1), ("cls", 0.0)],
                        help="HEAD:SHARE, the head and the early-stopping share (the defaults: cls:0.1)")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    settings = Settings()
    engine = connect(settings)
    version = registry.get_version(engine, args.version)
    rows = version_rows(settings, engine, version)
    if rows is None:
        raise SystemExit(f"v{args.version}'s held-out snapshot is no longer the same rows: nothing to compare with")
    train, held_out = rows
    labels = tuple(sorted(set(train["label"]) | set(held_out.frame["label"])))
    tfidf = score_tfidf(train, held_out, labels, settings.seed)
    if tfidf is None:
        raise SystemExit(f"v{args.version} trained on fewer than two labels")
    baseline = tfidf.metrics.accuracy
    own = version.accuracy
    print(f"v{args.version} of {settings.home}: {len(train)} training rows, {held_out.size} held out, labels "
          f"{list(labels)}; the version's own accuracy {own:.4f} ({100 * (own - baseline):+.1f} points), "
          f"TF-IDF + LR on the same rows {baseline:.4f}", flush=True)
    test = held_out.frame
    for head, share in args.arms:
        accuracies = []
        for seed in args.seeds:
            config = TrainingConfig(epochs=args.epochs, early_stopping_fraction=share, seed=seed)
            accuracy, seconds, best = accuracy_of(config, train, test, labels, settings.max_sequence_length, head)
            accuracies.append(accuracy)
            print(f"  {head} head, early stopping {share:g}, seed {seed}: {accuracy:.4f} "
                  f"({100 * (accuracy - baseline):+.1f} points), best epoch {best}, {seconds:.0f} s", flush=True)
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        print(f"{head} head, early stopping {share:g}: mean {statistics.mean(accuracies):.4f} "
              f"({100 * (statistics.mean(accuracies) - baseline):+.1f} points), standard deviation "
              f"{100 * spread:.1f} points over {len(accuracies)} seeds", flush=True)


if __name__ == "__main__":
    main()
