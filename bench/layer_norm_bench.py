"""Layer norm on 2-D activations, four ways, in one process: the written-out norm training runs, the
oneDNN-fused norm scoring runs, and two alternatives that did not pay (``README.md``, Performance)::

    .venv/bin/python bench/layer_norm_bench.py

The written-out norm (``models.bert_forward``: float32 statistics, as Keras); the subgraph oneDNN's
remapper fuses into one ``_MklLayerNorm`` kernel (``models.bert_forward.onednn_layer_norm``);
``tf.nn.batch_normalization`` on the written-out moments; and ``fused_batch_norm`` over the rows as
NCHW channels with casts between it and gamma, which keep the remapper from fusing it. Each is applied
50 times in one graph, traced for any row count (as the forward is: a static count folds the pattern's
``Fill`` ops and it no longer fuses), to a batch of 64 tweets' tokens (2,560 x 384), bfloat16 and
float32; the best of 5 alternated passes is printed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.bert_forward import onednn_layer_norm  # noqa: E402

ROWS, HIDDEN, EPSILON, REPEATS = 64 * 40, 384, 1e-12, 50


def written_out(x, gamma, beta):
    dtype = x.dtype
    x = tf.cast(x, tf.float32)
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return tf.cast((x - mean) * tf.math.rsqrt(variance + EPSILON) * gamma + beta, dtype)


def onednn_fused(x, gamma, beta):
    return onednn_layer_norm(x, gamma, beta, EPSILON)


def batch_normalization(x, gamma, beta):
    dtype = x.dtype
    x = tf.cast(x, tf.float32)
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return tf.cast(tf.nn.batch_normalization(x, mean, variance, beta, gamma, EPSILON), dtype)


def fused_batch_norm(x, gamma, beta):
    rows = tf.shape(x)[0]
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(tf.reshape(x, [1, -1, HIDDEN, 1]), tf.ones([rows]), tf.zeros([rows]),
                                               epsilon=1e-6, data_format="NCHW", is_training=True)
    return tf.cast(tf.cast(tf.reshape(y, [-1, HIDDEN]), tf.float32) * gamma + beta, x.dtype)


def main() -> None:
    x32 = tf.random.normal([ROWS, HIDDEN])
    gamma, beta = tf.random.normal([HIDDEN]) + 1.0, tf.random.normal([HIDDEN])
    ways = {"written out": written_out, "oneDNN fused (scoring)": onednn_fused,
            "batch_normalization": batch_normalization, "fused_batch_norm + casts": fused_batch_norm}

    def repeated(norm, dtype):
        @tf.function(autograph=False, input_signature=[tf.TensorSpec([None, HIDDEN], dtype)])
        def run(x):
            for _ in range(REPEATS):
                x = norm(x, gamma, beta)
            return x
        return run

    for dtype in (tf.bfloat16, tf.float32):
        x = tf.cast(x32, dtype)
        graphs = {name: repeated(norm, dtype) for name, norm in ways.items()}
        reference = tf.cast(written_out(x, gamma, beta), tf.float32)
        for graph in graphs.values():
            graph(x)
        best = dict.fromkeys(graphs, float("inf"))
        for _ in range(5):
            for name, graph in graphs.items():
                started = time.perf_counter()
                graph(x).numpy()
                best[name] = min(best[name], (time.perf_counter() - started) / REPEATS)
        for name, norm in ways.items():
            once = tf.function(lambda x, norm=norm: norm(x, gamma, beta), autograph=False,
                               input_signature=[tf.TensorSpec([None, HIDDEN], dtype)])
            error = float(tf.reduce_max(tf.abs(tf.cast(once(x), tf.float32) - reference)))
            print(f"{dtype.name:<9} {name:<24} {best[name] * 1e3:6.3f} ms  "
                  f"({best[name] / best['written out']:.2f}x the written-out norm; max difference {error:.3g})")


if __name__ == "__main__":
    main()
