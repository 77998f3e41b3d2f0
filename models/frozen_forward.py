"""The forward traced with its matmul kernels as constants of the graph: many rows, weights that stay.

TensorFlow fuses each dense layer's product and bias into one oneDNN inner product. With the weight
an argument of the graph, oneDNN runs it on a generic gemm kernel (on AMX, without AMX); with the
weight a constant, it reorders it once into the blocked layout of its AMX kernel and keeps it
(``bench/matmul_bench.py --dtype bfloat16 --kernels``: 1.3x to 1.8x the GFLOP/s at MiniLM's shapes on
2 AMX cores). The price is a graph per set of weights: tracing and optimising MiniLM's 21 MB of
bfloat16 kernels costs more than the graph that takes them as arguments, which is traced once for
every model. So a pass of ``FROZEN_FROM_ROWS`` rows or more uses it where it was measured to pay, a CPU
with AMX computing in bfloat16 (``bench/frozen_scoring_bench.py`` measures both ways at several pass
sizes: 1.15x at 4,096 rows, 0.94x at 2,000, the same probabilities). Without AMX oneDNN's kernel for a
frozen weight gains little (AVX512_BF16 without AMX: 0.93x at 4,096 rows, 0.96x at 8,192), so
``frozen_pays`` says no there.

>>> import numpy as np
>>> from models.bert_forward import NUMPY, BertShape, random_weights
>>> shape = BertShape(layers=1, heads=2, hidden=4, epsilon=1e-12, dropout=0.0, head_dropout=0.0)
>>> weights = random_weights(shape, vocabulary=10, positions=8, intermediate=8, classes=3)
>>> inputs = {"token_ids": np.array([[2, 5, 3, 0]], np.int32), "padding_mask": np.array([[1, 1, 1, 0]], bool),
...           "segment_ids": np.zeros((1, 4), np.int32)}
>>> logits = frozen_logits(weights, "float32", shape)(inputs).numpy()
>>> bool(np.allclose(logits, forward(weights, np.float32, shape, inputs, NUMPY), atol=1e-5))
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from models.bert_forward import BertShape, forward, input_signature, scoring_weights, tensorflow_ops
from models.hardware import cpu_flags, gpu_compute_capabilities

# A pass of this many rows or more is scored by a graph with the kernels frozen in: where the frozen
# graph's extra tracing is paid back (bench/frozen_scoring_bench.py; see the module's docstring).
FROZEN_FROM_ROWS = 4096


def frozen_pays(rows: int, dtype: str, flags: frozenset[str] | None = None,
                gpus: Sequence[tuple[int, int]] | None = None) -> bool:
    """Whether a pass of ``rows`` rows computing in ``dtype`` is scored faster with the kernels frozen in
    on this machine (or one with these CPU ``flags`` and GPU compute capabilities ``gpus``): a CPU with
    AMX in bfloat16, from ``FROZEN_FROM_ROWS`` rows on. Elsewhere it was not measured to pay.

    >>> amx = frozenset({"avx512_bf16", "amx_bf16"})
    >>> frozen_pays(4096, "bfloat16", amx, gpus=()), frozen_pays(4095, "bfloat16", amx, gpus=())
    (True, False)
    >>> frozen_pays(8192, "bfloat16", frozenset({"avx512_bf16"}), gpus=()), frozen_pays(8192, "float32", amx, gpus=())
    (False, False)
    """
    if rows < FROZEN_FROM_ROWS or dtype != "bfloat16" or "amx_bf16" not in (cpu_flags() if flags is None else flags):
        return False
    return not (gpu_compute_capabilities() if gpus is None else gpus)


def frozen_logits(weights: Mapping[str, Any], dtype: Any, shape: BertShape) -> Callable[[dict], Any]:
    """Float32 logits of a batch from ``weights`` (float32 or cast already; tensors or NumPy arrays, named
    by their Keras paths), the matmul kernels cast to ``dtype`` and frozen into one graph for every batch
    shape. The graph holds its own copy of the kernels: later changes to ``weights`` do not reach it."""
    import tensorflow as tf  # on first use, as models.bert_forward

    dtype = tf.as_dtype(dtype)
    cast = scoring_weights(weights, dtype)
    kernels = {path: value.numpy() for path, value in cast.items() if path.endswith("/kernel")}
    rest = {path: value for path, value in cast.items() if path not in kernels}

    def logits(inputs: dict, arguments: dict) -> tf.Tensor:
        frozen = {path: tf.constant(value) for path, value in kernels.items()}
        return tf.cast(forward({**arguments, **frozen}, dtype, shape, inputs, tensorflow_ops()), tf.float32)

    traced = tf.function(logits, autograph=False, input_signature=[
        input_signature(), {path: tf.TensorSpec(value.shape, value.dtype) for path, value in rest.items()}])
    return lambda inputs: traced(inputs, rest)
