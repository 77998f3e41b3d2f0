"""Training's GELU, layer norm, dropout and bias compute what autodiff of their written-out forms computes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models.training_kernels import (
    keep_compiled_kernels,
    training_bias_add,
    training_dropout,
    training_gelu,
    training_layer_norm,
)

REPO = Path(__file__).resolve().parents[2]


def _value_and_gradients(function, inputs: list, upstream) -> list:
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        y = function(*inputs)
    return [y, *tape.gradient(y, inputs, output_gradients=upstream)]


def _assert_close(got: list, expected: list, tolerance: float) -> None:
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(tf.cast(a, tf.float32), tf.cast(b, tf.float32), atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize(("dtype", "tolerance"), [(tf.float32, 1e-5), (tf.bfloat16, 0.05)])
def test_training_gelu_is_tanh_gelu_with_its_gradient(dtype, tolerance):
    x = tf.cast(tf.linspace(-8.0, 8.0, 2001), dtype)
    upstream = tf.cast(tf.linspace(1.0, 2.0, 2001), dtype)
    got = _value_and_gradients(training_gelu(), [x], upstream)
    expected = _value_and_gradients(lambda v: tf.nn.gelu(v, approximate=True), [x], upstream)
    _assert_close(got, expected, tolerance)


@pytest.mark.parametrize(("dtype", "tolerance"), [(tf.float32, 1e-4), (tf.bfloat16, 0.1)])
@pytest.mark.parametrize("compiled", [True, False])
def test_training_gelu_adds_a_float32_bias_and_sums_its_gradient(dtype, tolerance, compiled):
    x = tf.cast(tf.random.stateless_normal([50, 12], seed=[1, 2]) * 3.0, dtype)
    bias = tf.random.stateless_normal([12], seed=[3, 4])
    upstream = tf.cast(tf.random.stateless_normal([50, 12], seed=[5, 6]), dtype)
    got = _value_and_gradients(training_gelu(compiled), [x, bias], upstream)
    expected = _value_and_gradients(
        lambda v, b: tf.cast(tf.nn.gelu(tf.cast(v, tf.float32) + b, approximate=True), dtype), [x, bias], upstream)
    assert got[2].dtype == tf.float32  # the bias's gradient, summed in float32, not cast down and up again
    _assert_close(got, expected, tolerance)


@pytest.mark.parametrize(("dtype", "tolerance"), [(tf.float32, 1e-5), (tf.bfloat16, 0.05)])
@pytest.mark.parametrize("compiled", [True, False])
def test_training_bias_add_adds_a_float32_bias_and_sums_its_gradient(dtype, tolerance, compiled):
    x = tf.cast(tf.random.stateless_normal([3, 50, 12], seed=[1, 2]) * 3.0, dtype)  # rows of any rank
    bias = tf.random.stateless_normal([12], seed=[3, 4])
    upstream = tf.cast(tf.random.stateless_normal([3, 50, 12], seed=[5, 6]), dtype)
    got = _value_and_gradients(training_bias_add(compiled), [x, bias], upstream)
    expected = _value_and_gradients(lambda v, b: tf.cast(tf.cast(v, tf.float32) + b, dtype), [x, bias], upstream)
    assert got[2].dtype == tf.float32
    np.testing.assert_array_equal(got[1], upstream)  # x's gradient passes through untouched
    _assert_close(got, expected, tolerance)


@pytest.mark.parametrize(("dtype", "tolerance"), [(tf.float32, 1e-4), (tf.bfloat16, 0.05)])
def test_training_layer_norm_is_the_written_out_norm_with_its_gradients(dtype, tolerance):
    x = tf.cast(tf.random.stateless_normal([37, 24], seed=[1, 2]) * 3.0 + 1.0, dtype)
    gamma = tf.random.stateless_normal([24], seed=[3, 4]) * 0.1 + 1.0
    beta = tf.random.stateless_normal([24], seed=[5, 6]) * 0.1
    upstream = tf.cast(tf.random.stateless_normal([37, 24], seed=[7, 8]), dtype)

    def written_out(x, gamma, beta):
        wide = tf.cast(x, tf.float32)
        mean, variance = tf.nn.moments(wide, axes=[-1], keepdims=True)
        return tf.cast((wide - mean) * tf.math.rsqrt(variance + 1e-12) * gamma + beta, x.dtype)

    norm = training_layer_norm()
    got = _value_and_gradients(lambda x, g, b: norm(x, g, b, 1e-12), [x, gamma, beta], upstream)
    _assert_close(got, _value_and_gradients(written_out, [x, gamma, beta], upstream), tolerance)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("shape", [[64, 384], [4, 3, 9, 9]])  # a sublayer's rows; attention probabilities, odd width
def test_training_dropout_drops_at_its_rate_and_passes_gradients_through_the_kept(compiled, shape):
    dropout = training_dropout(compiled)
    x = tf.random.stateless_uniform(shape, seed=[1, 2], minval=1.0, maxval=2.0)  # never 0: dropped means 0
    upstream = tf.random.stateless_normal(shape, seed=[3, 4])
    y, dx = _value_and_gradients(lambda v: dropout(v, 0.1, tf.constant([7, 8])), [x], upstream)
    kept = (y != 0).numpy()
    assert abs(kept.mean() - 0.9) < (0.01 if kept.size > 10_000 else 0.06)
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / 0.9, rtol=1e-6)
    np.testing.assert_allclose(dx.numpy(), np.where(kept, upstream.numpy() / 0.9, 0.0), rtol=1e-6)
    again = dropout(x, 0.1, tf.constant([7, 8]))
    other = dropout(x, 0.1, tf.constant([7, 9]))
    assert np.array_equal(again.numpy() != 0, kept) and not np.array_equal(other.numpy() != 0, kept)


def test_training_dropout_adds_a_float32_bias_and_sums_its_gradient():
    x = tf.cast(tf.random.stateless_uniform([300, 16], seed=[1, 2], minval=1.0, maxval=2.0), tf.bfloat16)
    bias = tf.random.stateless_uniform([16], seed=[3, 4], minval=0.0, maxval=1.0)
    upstream = tf.cast(tf.random.stateless_normal([300, 16], seed=[5, 6]), tf.bfloat16)
    y, dx, dbias = _value_and_gradients(lambda v, b: training_dropout()(v, 0.25, tf.constant([1, 1]), b),
                                        [x, bias], upstream)
    kept = (y != 0).numpy()
    assert y.dtype == dx.dtype == tf.bfloat16 and dbias.dtype == tf.float32
    wide = tf.cast(x, tf.float32).numpy() + bias.numpy()
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy()[kept], (wide / 0.75)[kept], rtol=1e-2)
    expected_dx = np.where(kept, tf.cast(upstream, tf.float32).numpy() / 0.75, 0.0)
    np.testing.assert_allclose(tf.cast(dx, tf.float32).numpy(), expected_dx, rtol=1e-2)
    np.testing.assert_allclose(dbias.numpy(), expected_dx.sum(axis=0), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_training_dropout_refuses_a_rate_outside_zero_to_one(rate):
    with pytest.raises(ValueError, match="dropout rate"):
        training_dropout()(tf.ones([2, 2]), rate, tf.constant([1, 2]))


def test_keep_compiled_kernels_names_one_cache_per_tensorflow_version_and_respects_one_named(monkeypatch, tmp_path):
    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
    kept = keep_compiled_kernels(tmp_path)
    assert kept == tmp_path / tf.__version__
    assert os.environ["TF_XLA_FLAGS"] == f"--tf_xla_auto_jit=0 --tf_xla_persistent_cache_directory={kept}"
    assert keep_compiled_kernels(tmp_path / "other") is None  # named already (here by us; or by the user)
    assert str(tmp_path / "other") not in os.environ["TF_XLA_FLAGS"]


def test_a_process_leaves_its_compiled_kernels_for_the_next(tmp_path):
    # A fresh process: XLA reads its flags once, at its first compile.
    code = ("import sys; from pathlib import Path; import tensorflow as tf; "
            "from models.training_kernels import keep_compiled_kernels, training_gelu; "
            "kept = keep_compiled_kernels(Path(sys.argv[1])); training_gelu()(tf.ones([4, 3])); "
            "print(len(list(kept.iterdir())))")
    env = {k: v for k, v in os.environ.items() if k != "TF_XLA_FLAGS"}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    assert int(done.stdout.split()[-1]) >= 1
