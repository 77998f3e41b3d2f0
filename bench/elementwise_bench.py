"""Element-wise work of a training step, value and gradient, several ways, in one process::

    .venv/bin/python bench/elementwise_bench.py

What ``bench/op_profile.py --what train`` finds outside the matmuls, alone, at the sizes of a batch of
32 tweets (1,280 token rows): GELU over the 1,536-wide activations (autodiff of ``tf.nn.gelu`` in
bfloat16 and in float32, ``models.training_kernels.training_gelu`` compiled and not), layer norm over the
384-wide ones (autodiff of the written-out norm, and ``training_layer_norm``'s two XLA loops with the
gradient written out), and dropout (Keras's, a float32 mask, and under XLA). Each way runs 10 times
in one traced graph; the best of 5 calls, per application, is printed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.training_kernels import training_gelu, training_layer_norm  # noqa: E402

ROWS, HIDDEN, INNER, EPSILON, RATE = 1280, 384, 1536, 1e-12, 0.1


def timed(apply: Callable, x: tf.Tensor, extra: tuple = ()) -> float:
    """Milliseconds per value-and-gradient of ``apply(x, *extra)``: 10 in one graph, best of 5 calls."""
    @tf.function(autograph=False)
    def step(x: tf.Tensor) -> list:
        gradients = []
        for i in range(10):
            shifted = x + tf.cast(i, x.dtype)
            with tf.GradientTape() as tape:
                tape.watch(shifted)
                y = apply(shifted, *extra)
            gradients.append(tape.gradient(y, shifted, output_gradients=shifted))
        return gradients

    step(x)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        step(x)[-1].numpy()
        best = min(best, time.perf_counter() - started)
    return best / 10 * 1e3


def written_out_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: float) -> tf.Tensor:
    wide = tf.cast(x, tf.float32)
    mean, variance = tf.nn.moments(wide, axes=[-1], keepdims=True)
    return tf.cast((wide - mean) * tf.math.rsqrt(variance + epsilon) * gamma + beta, x.dtype)


def float32_mask_dropout(x: tf.Tensor, seed: keras.random.SeedGenerator) -> tf.Tensor:
    keep = keras.random.uniform(tf.shape(x), dtype="float32", seed=seed) >= RATE
    return tf.where(keep, x * tf.constant(1 / (1 - RATE), x.dtype), tf.zeros_like(x))


@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def _masked(x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    keep = tf.random.stateless_uniform(tf.shape(x), seed=seed, dtype=tf.float32) >= RATE
    return tf.where(keep, x * tf.constant(1 / (1 - RATE), x.dtype), tf.zeros_like(x))


@tf.custom_gradient
def xla_dropout(x: tf.Tensor, seed: tf.Tensor):
    return _masked(x, seed), lambda upstream: (_masked(upstream, seed), None)


def main() -> None:
    inner = tf.random.normal([ROWS, INNER], seed=1)
    hidden = tf.random.normal([ROWS, HIDDEN], seed=2)
    gamma, beta = tf.Variable(tf.ones([HIDDEN])), tf.Variable(tf.zeros([HIDDEN]))
    bf16 = tf.bfloat16
    print(f"GELU, value and gradient, {ROWS} x {INNER}:")
    for name, apply, dtype in [
        ("autodiff of tf.nn.gelu, bfloat16 (before stop 25)", lambda x: tf.nn.gelu(x, approximate=True), bf16),
        ("autodiff of tf.nn.gelu, float32", lambda x: tf.nn.gelu(x, approximate=True), tf.float32),
        ("training_gelu, not compiled, bfloat16 in and out", training_gelu(compiled=False), bf16),
        ("training_gelu, XLA-compiled, bfloat16 in and out (what retrain trains with)", training_gelu(), bf16),
    ]:
        print(f"  {timed(apply, tf.cast(inner, dtype)):7.2f} ms  {name}")
    print(f"layer norm, value and gradient, {ROWS} x {HIDDEN}, bfloat16:")
    for name, apply in [("written out, autodiff (before stop 25)", written_out_norm),
                        ("training_layer_norm, XLA-compiled (what retrain trains with)", training_layer_norm())]:
        print(f"  {timed(apply, tf.cast(hidden, bf16), (gamma, beta, EPSILON)):7.2f} ms  {name}")
    print(f"dropout {RATE}, mask and gradient, {ROWS} x {HIDDEN}, bfloat16:")
    for name, apply, extra in [
        ("keras.random.dropout (what retrain trains with)", lambda x, seed: keras.random.dropout(x, RATE, seed=seed),
         (keras.random.SeedGenerator(1),)),
        ("a float32 mask", float32_mask_dropout, (keras.random.SeedGenerator(1),)),
        ("under XLA", xla_dropout, (tf.constant([1, 2]),)),
    ]:
        print(f"  {timed(apply, tf.cast(hidden, bf16), extra):7.2f} ms  {name}")


if __name__ == "__main__":
    main()
