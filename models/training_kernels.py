"""GELU, layer norm, dropout and a bias for a training step: float32 inside, gradients written out, each one XLA loop.

The forward (``models.bert_forward``) is the same function in training and in scoring, but not the
same kernels. Scoring lets oneDNN fuse GELU into its matmul and layer norm into one kernel; neither
fusion has a gradient. Under autodiff the written-out forms were a dozen element-wise kernels each,
and TensorFlow's bfloat16 element-wise kernels run at about half their float32 speed on CPU: in a
training step on 2 AMX cores, ``Mul`` alone was 24% of the kernel time (``bench/op_profile.py``).
Here each is a value and a written-out gradient, computed in float32 between a cast in and a cast
out, and XLA-compiled into one loop apiece (compiled once per activation shape).

>>> import tensorflow as tf
>>> x = tf.constant([[-1.0, 0.0, 2.0]])
>>> [round(v, 3) for v in training_gelu()(x).numpy()[0].tolist()]
[-0.159, 0.0, 1.955]
>>> [round(v, 3) for v in training_layer_norm()(x, tf.ones([3]), tf.zeros([3]), 1e-12).numpy()[0].tolist()]
[-1.069, -0.267, 1.336]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CACHE_FLAG = "--tf_xla_persistent_cache_directory"


def keep_compiled_kernels(folder: Path) -> Path | None:
    """Keep the kernels XLA compiles in ``folder`` (a subfolder per TensorFlow version), for every later
    process to load instead of compiling: the folder where this process keeps them, or None where
    ``TF_XLA_FLAGS`` names another cache already.

    XLA reads its flags when it first compiles, so this takes effect only if called before. A fresh
    process compiles some 80 kernels for a fine-tune (each of the kernels here per activation shape):
    on 2 cores a weekly run loading last week's took 77.8 and 79.3 s against 85.0 and 85.5 s compiling
    them (``bench/weekly_ab.py``).
    """
    import tensorflow as tf

    flags = os.environ.get("TF_XLA_FLAGS", "")
    if CACHE_FLAG in flags:
        return None
    kept = folder / tf.__version__
    os.environ["TF_XLA_FLAGS"] = f"{flags} {CACHE_FLAG}={kept}".strip()
    return kept


def training_gelu(compiled: bool = True) -> Callable[..., Any]:
    """GELU's tanh form for training, ``gelu(x, bias=None)`` = GELU(x + bias): float32 inside, its
    derivative written out, each one XLA-compiled loop.

    TensorFlow's element-wise kernels run bfloat16 at about half their float32 speed on CPU, and
    autodiff of the tanh form is a dozen of them, each a pass over the 1,536-wide activations; XLA
    makes the value one loop and the derivative another (compiled once per activation shape, tens of
    milliseconds). Training on 2 AMX cores against autodiff of ``tf.nn.gelu``: 1.22x the examples a
    second compiled, 1.12x not (``bench/training_kernels_bench.py``). The dense layer's float32 bias,
    when given, is added inside the loop and its gradient summed in the derivative's loop, where
    ``BiasAddGrad`` was another pass over the activations in bfloat16. ``compiled=False`` where XLA is
    not wanted (GPUs, whose element-wise kernels are fast and whose XLA needs CUDA's compiler).
    """
    import tensorflow as tf

    c, a = float(np.sqrt(2.0 / np.pi)), 0.044715

    def value(x: Any, bias: Any) -> Any:
        wide = tf.cast(x, tf.float32) + bias
        return tf.cast(0.5 * wide * (1.0 + tf.tanh(wide * (c + c * a * wide * wide))), x.dtype)

    def derivative(x: Any, bias: Any, upstream: Any) -> tuple[Any, Any]:  # recomputed from x: nothing else kept
        wide = tf.cast(x, tf.float32) + bias
        t = tf.tanh(wide * (c + c * a * wide * wide))
        slope = 0.5 + 0.5 * t + (wide - wide * t * t) * (0.5 * c + 1.5 * c * a * wide * wide)
        wide_dx = tf.cast(upstream, tf.float32) * slope
        return tf.cast(wide_dx, x.dtype), _column_sums(wide_dx)

    if compiled:
        value, derivative = (tf.function(f, jit_compile=True, autograph=False, reduce_retracing=True)
                             for f in (value, derivative))

    def gelu(x: Any, bias: Any = None) -> Any:
        return _with_bias(value, derivative, x, bias)

    return gelu


def _column_sums(x: Any) -> Any:
    """Sums over every axis but the last: a bias's gradient."""
    import tensorflow as tf

    return tf.reduce_sum(tf.reshape(x, [-1, tf.shape(x)[-1]]), 0)


def _with_bias(value: Callable, gradient: Callable, x: Any, bias: Any) -> Any:
    """``value(x, bias)`` with ``gradient(x, bias, upstream)`` -> (dx, dbias) as its gradient; without a
    bias, a float32 zero in its place and only dx."""
    import tensorflow as tf

    if bias is None:
        zero = tf.zeros([], tf.float32)

        @tf.custom_gradient
        def unbiased(x: Any) -> Any:
            return value(x, zero), lambda upstream: gradient(x, zero, upstream)[0]

        return unbiased(x)

    @tf.custom_gradient
    def biased(x: Any, bias: Any) -> Any:
        return value(x, bias), lambda upstream: gradient(x, bias, upstream)

    return biased(x, bias)


def training_dropout(compiled: bool = True) -> Callable[..., Any]:
    """Dropout for training, ``dropout(x, rate, seed, bias=None)``: drop(x + bias) with a mask drawn from
    the stateless ``seed`` (two int32s), 16 random bits an element; the bias, when given, added in float32
    and its gradient summed in the gradient's loop.

    Keras draws a float per element (``tf.random.stateless_uniform``) and applies the mask in three
    more kernels; Philox's 32 bits a draw give two 16-bit elements here (a threshold of
    ``round(rate * 65536)``: 0.100006 for 0.1), and the mask is applied, in the value and in the
    gradient, in one XLA-compiled loop (compiled once per shape). ``compiled=False`` where XLA is not
    wanted (GPUs).
    """
    import tensorflow as tf

    def kept(x: Any, bits: Any, threshold: Any) -> Any:
        halves = tf.bitcast(bits, tf.uint16)  # (..., ceil(n / 2), 2)
        width = tf.shape(x)[-1]
        halves = tf.reshape(halves, tf.concat([tf.shape(x)[:-1], [2 * ((width + 1) // 2)]], 0))[..., :width]
        return halves >= threshold

    def value(x: Any, bias: Any, bits: Any, threshold: Any, scale: Any) -> Any:
        wide = tf.cast(x, tf.float32) + bias
        return tf.cast(tf.where(kept(x, bits, threshold), wide * scale, 0.0), x.dtype)

    def gradient(x: Any, bits: Any, threshold: Any, scale: Any, upstream: Any) -> tuple[Any, Any]:
        wide_dx = tf.where(kept(x, bits, threshold), tf.cast(upstream, tf.float32) * scale, 0.0)
        return tf.cast(wide_dx, x.dtype), _column_sums(wide_dx)

    if compiled:
        value, gradient = (tf.function(f, jit_compile=True, autograph=False, reduce_retracing=True)
                           for f in (value, gradient))

    def dropout(x: Any, rate: float, seed: Any, bias: Any = None) -> Any:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate {rate} is not in [0, 1)")
        shape = tf.shape(x)
        bits = tf.random.stateless_uniform(tf.concat([shape[:-1], [(shape[-1] + 1) // 2]], 0), seed=seed,
                                           minval=None, maxval=None, dtype=tf.uint32)
        threshold = tf.constant(round(rate * 65536), tf.uint16)
        scale = tf.constant(1.0 / (1.0 - rate), tf.float32)
        return _with_bias(lambda x, bias: value(x, bias, bits, threshold, scale),
                          lambda x, bias, upstream: gradient(x, bits, threshold, scale, upstream), x, bias)

    return dropout


def training_bias_add(compiled: bool = True) -> Callable[[Any, Any], Any]:
    """A matmul's bias for training, ``bias_add(x, bias)`` = x + bias: the float32 bias added in float32
    in one XLA-compiled loop, its gradient summed in another; x's gradient passes through as it is.

    For the attention's query, key and value projection, where nothing else follows the matmul to take
    the bias in (GELU and dropout take theirs). Left to TensorFlow, the matmul and its bias fuse into
    oneDNN's inner product, which on AMX runs a generic gemm kernel without AMX; a plain matmul runs
    AMX's brgemm. On 2 AMX cores bfloat16 training ran 1.02x the examples a second this way (3 rounds
    of 4 faster), the same losses (``bench/training_kernels_bench.py``); elsewhere it was not measured,
    so ``models.bert_forward.tensorflow_ops`` uses it on AMX only.
    """
    import tensorflow as tf

    def value(x: Any, bias: Any) -> Any:
        return tf.cast(tf.cast(x, tf.float32) + bias, x.dtype)

    def gradient(x: Any, bias: Any, upstream: Any) -> tuple[Any, Any]:
        return upstream, _column_sums(tf.cast(upstream, tf.float32))

    if compiled:
        value, gradient = (tf.function(f, jit_compile=True, autograph=False, reduce_retracing=True)
                           for f in (value, gradient))

    def bias_add(x: Any, bias: Any) -> Any:
        return _with_bias(value, gradient, x, bias)

    return bias_add


def training_layer_norm(compiled: bool = True) -> Callable[[Any, Any, Any, float], Any]:
    """Layer norm for training, statistics in float32: its value one XLA-compiled loop and its gradient
    (written out, the statistics recomputed from x) another, where autodiff of the written-out norm ran
    a dozen kernels: 0.56x the written-out norm's time, value and gradient (``bench/elementwise_bench.py``).
    ``compiled=False`` where XLA is not wanted (GPUs)."""
    import tensorflow as tf

    def normalised(x: Any, epsilon: Any) -> tuple[Any, Any]:
        wide = tf.cast(x, tf.float32)
        mean, variance = tf.nn.moments(wide, axes=[-1], keepdims=True)
        scale = tf.math.rsqrt(variance + epsilon)
        return (wide - mean) * scale, scale

    def value(x: Any, gamma: Any, beta: Any, epsilon: Any) -> Any:
        return tf.cast(normalised(x, epsilon)[0] * gamma + beta, x.dtype)

    def gradient(x: Any, gamma: Any, epsilon: Any, upstream: Any) -> tuple[Any, Any, Any]:
        normed, scale = normalised(x, epsilon)
        upstream = tf.cast(upstream, tf.float32)
        scaled = upstream * gamma
        dx = scale * (scaled - tf.reduce_mean(scaled, -1, keepdims=True)
                      - normed * tf.reduce_mean(scaled * normed, -1, keepdims=True))
        return tf.cast(dx, x.dtype), tf.reduce_sum(upstream * normed, 0), tf.reduce_sum(upstream, 0)

    if compiled:
        value, gradient = (tf.function(f, jit_compile=True, autograph=False, reduce_retracing=True)
                           for f in (value, gradient))

    def layer_norm(x: Any, gamma: Any, beta: Any, epsilon: float) -> Any:
        epsilon = tf.constant(epsilon, tf.float32)

        @tf.custom_gradient
        def norm(x: Any, gamma: Any, beta: Any) -> Any:
            return value(x, gamma, beta, epsilon), lambda upstream: gradient(x, gamma, epsilon, upstream)

        return norm(x, gamma, beta)

    return layer_norm
