"""BERT's forward pass written out once, run by TensorFlow or by NumPy.

TensorFlow runs it for training and for scoring many rows (``models.fused_forward``: written out
on 2-D activations so that oneDNN fuses matmul + bias + GELU). NumPy runs the same function for
one batch in a fresh process (``retrain predict "text"``, ``load_champion()``), which then never
imports TensorFlow: that import was 3-4 s of a 4-5 s cold start on 2 cores, the forward of a few
tweets a few milliseconds. The two agree to 1e-5 in float32 (``tests/model/test_fused_forward.py``).

The forward reads float32 weights named by their Keras paths (``"logits/bias"``,
``"transformer_layer_0/self_attention_layer/query/kernel"``) and casts them to the compute dtype
where they are used; the architecture is KerasHub's ``BertBackbone`` (post-norm, approximate GELU,
learned positions) under a ``BertTextClassifier`` head or a mean-pooled one.

>>> import numpy as np
>>> shape = BertShape(layers=1, heads=2, hidden=4, epsilon=1e-12, dropout=0.0, head_dropout=0.0)
>>> weights = random_weights(shape, vocabulary=10, positions=8, intermediate=8, classes=3)
>>> inputs = {"token_ids": np.array([[2, 5, 3, 0]]), "padding_mask": np.array([[1, 1, 1, 0]], bool),
...           "segment_ids": np.zeros((1, 4), int)}
>>> forward(weights, np.float32, shape, inputs, NUMPY).shape
(1, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

# The two heads: KerasHub's (the pooler's tanh dense over the [CLS] row) and the mean of the last
# layer's rows (``models.mean_pooled``), each then dropout and the logits dense.
CLS, MEAN = "cls", "mean"
HEADS = {"BertTextClassifier": CLS, "MeanPooledBertTextClassifier": MEAN}  # a task.json's class_name -> its head


@dataclass(frozen=True)
class BertShape:
    """What the written-out forward needs to know of a backbone besides its weights."""

    layers: int
    heads: int
    hidden: int
    epsilon: float
    dropout: float
    head_dropout: float
    pooling: str = CLS  # what the head reads: CLS or MEAN


@dataclass(frozen=True)
class ArrayOps:
    """The operations the forward uses, from one array library (the TensorFlow ones are the kernels
    Grappler's remapper fuses: matmul, then bias_add, then GELU)."""

    cast: Callable[[Any, Any], Any]
    matmul: Callable[..., Any]  # (a, b, transpose_b=False), batched over leading axes
    bias_add: Callable[[Any, Any], Any]
    gelu: Callable[[Any], Any]  # the tanh approximation
    moments: Callable[[Any], tuple[Any, Any]]  # mean and variance over the last axis, kept
    rsqrt: Callable[[Any], Any]
    gather: Callable[[Any, Any], Any]  # rows of a table
    reshape: Callable[[Any, Any], Any]
    transpose: Callable[[Any, Any], Any]
    unstack: Callable[[Any], list]  # along the first axis
    concat: Callable[[list, int], Any]
    softmax: Callable[[Any], Any]  # over the last axis
    tanh: Callable[[Any], Any]
    sum_rows: Callable[[Any], Any]  # over axis 1 of (batch, rows, width)
    batch_and_length: Callable[[Any], tuple[Any, Any]]
    constant: Callable[[float, Any], Any]
    float32: Any
    # (x, gamma, beta, epsilon) -> x normalised over its last axis in one kernel, for inference; None:
    # the written-out norm. The oneDNN kernel has no gradient, so training has its own, below.
    fused_layer_norm: Callable[[Any, Any, Any, float], Any] | None = None
    # The same GELU for training, (x, bias) -> GELU(x + bias), where it differs from ``gelu`` (which
    # inference fuses into the matmul with its bias); None: ``gelu`` after the biased matmul.
    training_gelu: Callable[[Any, Any], Any] | None = None
    # The same layer norm for training (as ``fused_layer_norm``, with a gradient); None: the written-out norm.
    training_layer_norm: Callable[[Any, Any, Any, float], Any] | None = None
    # (x, float32 bias) -> x + bias for the query-key-value projection in training, where the matmul's own
    # fused bias runs a slower kernel (AMX; ``models.training_kernels.training_bias_add``); None: bias_add.
    training_bias_add: Callable[[Any, Any], Any] | None = None
    # (x, rate, seed, bias) -> dropout(x + bias) for training, the bias's gradient its own; None: the
    # caller's dropout after the biased matmul. Only the caller's ``dropout`` calls it (it holds the seeds).
    training_dropout: Callable[[Any, float, Any, Any], Any] | None = None


def _np_gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(np.float32(np.sqrt(2.0 / np.pi)) * (x + np.float32(0.044715) * x ** 3)))


def _np_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


NUMPY = ArrayOps(
    cast=lambda x, dtype: np.asarray(x).astype(dtype, copy=False),
    matmul=lambda a, b, transpose_b=False: a @ (np.swapaxes(b, -1, -2) if transpose_b else b),
    bias_add=lambda x, b: x + b,
    gelu=_np_gelu,
    moments=lambda x: (x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)),
    rsqrt=lambda x: 1.0 / np.sqrt(x),
    gather=lambda table, ids: table[ids],
    reshape=np.reshape,
    transpose=np.transpose,
    unstack=list,
    concat=lambda parts, axis: np.concatenate(parts, axis),
    softmax=_np_softmax,
    tanh=np.tanh,
    sum_rows=lambda x: x.sum(axis=1),
    batch_and_length=lambda ids: ids.shape[:2],
    constant=lambda value, dtype: np.asarray(value, dtype),
    float32=np.float32,
)


@cache
def input_signature() -> dict:
    """What a traced forward takes: packed token ids of any batch size and length, one graph for every
    shape (TensorFlow is imported here, on first use)."""
    import tensorflow as tf

    return {"token_ids": tf.TensorSpec((None, None), tf.int32), "padding_mask": tf.TensorSpec((None, None), tf.bool),
            "segment_ids": tf.TensorSpec((None, None), tf.int32)}


def cast_for_scoring(path: str) -> bool:
    """Whether scoring reads this weight cast to the compute dtype once a pass (the matmuls' kernels and
    biases) rather than in float32 (the tables rows are gathered from, the layer norms).

    >>> cast_for_scoring("logits/kernel"), cast_for_scoring("token_embedding/embeddings")
    (True, False)
    """
    return path.endswith(("/kernel", "/bias"))


def scoring_weights(weights: Mapping[str, Any], dtype: Any) -> dict[str, Any]:
    """TensorFlow tensors of ``weights`` (arrays, tensors or variables) as scoring reads them: those
    ``cast_for_scoring`` names cast to ``dtype`` once, the rest in float32 (TensorFlow is imported here)."""
    import tensorflow as tf

    return {path: tf.cast(value, dtype) if cast_for_scoring(path) else tf.convert_to_tensor(value)
            for path, value in weights.items()}


def onednn_layer_norm(x: Any, gamma: Any, beta: Any, epsilon: float) -> Any:
    """Layer norm written as the subgraph TensorFlow's oneDNN remapper fuses into one ``_MklLayerNorm``
    kernel (the one Keras 2's LayerNormalization built): each row a channel of a batch norm in training
    mode, then gamma and beta. Shapes must be dynamic: a static row count folds the ``Fill`` ops away
    and the pattern no longer matches. On 2 cores, 64 tweets' rows in bfloat16: 0.13x the written-out
    norm's time (``bench/layer_norm_bench.py``)."""
    import tensorflow as tf

    rows, width = tf.shape(x)[0], tf.shape(x)[1]
    empty = tf.constant([], tf.float32)
    normed = tf.raw_ops.FusedBatchNormV3(
        x=tf.reshape(x, tf.stack([1, rows, width, 1])), scale=tf.fill([rows], 1.0), offset=tf.fill([rows], 0.0),
        mean=empty, variance=empty, epsilon=epsilon, data_format="NCHW", is_training=True).y
    return tf.cast(beta, x.dtype) + tf.reshape(normed, tf.shape(x)) * tf.cast(gamma, x.dtype)


def _onednn_on_cpu_only() -> bool:
    # Without oneDNN (TF_ENABLE_ONEDNN_OPTS=0) or on a GPU the pattern stays a batch norm: slower.
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled()) and not tf.config.list_logical_devices("GPU")


@cache
def tensorflow_ops() -> ArrayOps:
    """The TensorFlow operations (TensorFlow is imported here, on first use)."""
    import tensorflow as tf

    from models.hardware import cpu_flags
    from models.training_kernels import training_bias_add, training_dropout, training_gelu, training_layer_norm

    gpu = bool(tf.config.list_logical_devices("GPU"))
    amx = not gpu and "amx_bf16" in cpu_flags()  # where training_bias_add was measured to pay
    return ArrayOps(
        cast=tf.cast, matmul=tf.matmul, bias_add=tf.nn.bias_add, gelu=lambda x: tf.nn.gelu(x, approximate=True),
        moments=lambda x: tf.nn.moments(x, axes=[-1], keepdims=True), rsqrt=tf.math.rsqrt, gather=tf.gather,
        reshape=tf.reshape, transpose=tf.transpose, unstack=tf.unstack, concat=tf.concat,
        softmax=lambda x: tf.nn.softmax(x, axis=-1), tanh=tf.tanh, sum_rows=lambda x: tf.reduce_sum(x, axis=1),
        batch_and_length=lambda ids: (tf.shape(ids)[0], tf.shape(ids)[1]), constant=tf.constant,
        float32=tf.float32, fused_layer_norm=onednn_layer_norm if _onednn_on_cpu_only() else None,
        training_gelu=training_gelu(compiled=not gpu), training_layer_norm=training_layer_norm(compiled=not gpu),
        training_dropout=training_dropout(compiled=not gpu), training_bias_add=training_bias_add() if amx else None)


def forward(weight: Mapping[str, Any], dtype: Any, shape: BertShape, inputs: Mapping[str, Any], ops: ArrayOps,
            dropout: Callable[..., Any] | None = None) -> Any:
    """Logits in ``dtype`` from float32 ``weight`` arrays named by their Keras paths, computed with ``ops``.

    ``dropout(x, rate, bias=None)``, when given (training), is applied where KerasHub applies dropout:
    after the embeddings, on attention probabilities, on each sublayer's output and before the head.
    Where ``ops.training_dropout`` is set, a sublayer's output reaches it unbiased, with its float32 bias.
    """
    hidden, heads = shape.hidden, shape.heads
    width = hidden // heads

    def w(path: str) -> Any:
        return ops.cast(weight[path], dtype)

    def drop(x: Any, rate: float) -> Any:
        return dropout(x, rate) if dropout is not None and rate else x

    def unbiased(x: Any, name: str, units: int) -> tuple[Any, Any]:
        # x times the kernel, and the float32 bias for a training kernel to add (and differentiate) itself.
        bias = ops.reshape(weight[name + "/bias"], [units])
        return ops.matmul(x, ops.reshape(w(name + "/kernel"), [-1, units])), bias

    def dense(x: Any, name: str, units: int, activation: str | None = None) -> Any:
        product, bias = unbiased(x, name, units)
        if activation == "gelu" and dropout is not None and ops.training_gelu is not None:
            return ops.training_gelu(product, bias)
        y = ops.bias_add(product, ops.cast(bias, dtype))
        return ops.gelu(y) if activation == "gelu" else y

    def dropped_dense(x: Any, name: str, units: int) -> Any:
        # In training the bias goes in with the mask: its gradient is then summed in the mask's loop.
        if dropout is None or not shape.dropout or ops.training_dropout is None:
            return drop(dense(x, name, units), shape.dropout)
        product, bias = unbiased(x, name, units)
        return dropout(product, shape.dropout, bias)

    def layer_norm(x: Any, name: str) -> Any:
        fused = ops.fused_layer_norm if dropout is None else ops.training_layer_norm
        if fused is not None:
            # The embeddings' sum arrives in float32 and is normalised so; the residual sums arrive in
            # the compute dtype, and both keep bfloat16's statistics in float32, as the written-out norm.
            return ops.cast(fused(x, weight[name + "/gamma"], weight[name + "/beta"], shape.epsilon), dtype)
        x = ops.cast(x, ops.float32)  # as Keras does: statistics in float32 under a mixed policy
        mean, variance = ops.moments(x)
        scaled = (x - mean) * ops.rsqrt(variance + shape.epsilon)
        return ops.cast(scaled * weight[name + "/gamma"] + weight[name + "/beta"], dtype)

    ids = inputs["token_ids"]
    batch, length = ops.batch_and_length(ids)
    # Rows are gathered from the float32 tables: casting a 30,522-row table first would cost a
    # dense cast (and, in training, a dense gradient) of all of it every step.
    x = (ops.gather(weight["token_embedding/embeddings"], ids)
         + weight["position_embedding/embeddings"][None, :length]
         + ops.gather(weight["segment_embedding/embeddings"], inputs["segment_ids"]))
    x = drop(layer_norm(ops.reshape(x, [-1, hidden]), "embeddings_layer_norm"), shape.dropout)
    # Padding keys get a large negative score: exp() of it is 0 in bfloat16 and float32 alike.
    key_bias = (1.0 - ops.cast(inputs["padding_mask"], dtype))[:, None, None, :] * ops.constant(-1e4, dtype)
    scale = ops.constant(width ** -0.5, dtype)

    def kernel(path: str) -> Any:
        return ops.reshape(w(path + "/kernel"), [hidden, hidden])

    def split_heads(t: Any, parts: int, rows: Any) -> list:
        # (batch * rows, parts * hidden) -> parts x (batch, heads, rows, width). Unstacked, not indexed:
        # indexing's gradient writes a full-size zero tensor per slice (StridedSliceGrad: 14% of a step).
        return ops.unstack(ops.transpose(ops.reshape(t, [batch, rows, parts, heads, width]), [2, 0, 3, 1, 4]))

    def projection(x: Any, attention: str, parts: tuple[str, ...]) -> Any:
        product = ops.matmul(x, ops.concat([kernel(attention + p) for p in parts], 1))
        biases = ops.concat([ops.reshape(weight[attention + p + "/bias"], [hidden]) for p in parts], 0)
        if dropout is not None and ops.training_bias_add is not None:
            return ops.training_bias_add(product, biases)
        return ops.bias_add(product, ops.cast(biases, dtype))

    for i in range(shape.layers):
        name = f"transformer_layer_{i}/"
        attention = name + "self_attention_layer/"
        if i < shape.layers - 1 or shape.pooling == MEAN:
            query, key, value = split_heads(projection(x, attention, ("query", "key", "value")), 3, length)
        else:
            # Under the [CLS] head only that row of the last layer reaches it: every row gives keys and
            # values, but only [CLS] asks a query, and only its row goes on through the layer. The logits
            # are the same; six layers of MiniLM's shape do 14% fewer FLOPs on a tweet, forward and backward.
            key, value = split_heads(projection(x, attention, ("key", "value")), 2, length)
            x = ops.reshape(x, [batch, length, hidden])[:, 0]
            (query,) = split_heads(projection(x, attention, ("query",)), 1, 1)
        scores = ops.matmul(query * scale, key, transpose_b=True) + key_bias
        probabilities = drop(ops.softmax(scores), shape.dropout)
        context = ops.reshape(ops.transpose(ops.matmul(probabilities, value), [0, 2, 1, 3]), [-1, hidden])
        attended = dropped_dense(context, attention + "attention_output", hidden)
        x = layer_norm(x + attended, name + "self_attention_layer_norm")
        inner = dense(x, name + "feedforward_intermediate_dense",
                      int(weight[name + "feedforward_intermediate_dense/bias"].shape[0]), "gelu")
        fed = dropped_dense(inner, name + "feedforward_output_dense", hidden)
        x = layer_norm(x + fed, name + "feedforward_layer_norm")
    classes = int(weight["logits/bias"].shape[0])
    if shape.pooling == MEAN:
        # The mean of the last layer's rows, padding left out, in float32 (as Keras's reduction is):
        # what sentence-transformers checkpoints such as all-MiniLM were trained to be read by.
        mask = ops.cast(inputs["padding_mask"], ops.float32)[:, :, None]
        rows = ops.cast(ops.reshape(x, [batch, length, hidden]), ops.float32) * mask
        mean = ops.cast(ops.sum_rows(rows) / ops.sum_rows(mask), dtype)
        return dense(drop(mean, shape.head_dropout), "logits", classes)
    first = x if shape.layers else ops.reshape(x, [batch, length, hidden])[:, 0]
    pooled = ops.tanh(dense(first, "pooled_dense", hidden))
    return dense(drop(pooled, shape.head_dropout), "logits", classes)


def random_weights(shape: BertShape, vocabulary: int, positions: int, intermediate: int, classes: int,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 weights of every name the forward reads, Keras's shapes (for examples and tests)."""
    rng = np.random.default_rng(seed)
    h, heads = shape.hidden, shape.heads
    sizes: dict[str, tuple[int, ...]] = {
        "token_embedding/embeddings": (vocabulary, h), "position_embedding/embeddings": (positions, h),
        "segment_embedding/embeddings": (2, h), "embeddings_layer_norm/gamma": (h,),
        "embeddings_layer_norm/beta": (h,), "pooled_dense/kernel": (h, h), "pooled_dense/bias": (h,),
        "logits/kernel": (h, classes), "logits/bias": (classes,)}
    for i in range(shape.layers):
        layer = f"transformer_layer_{i}/"
        for part in ("query", "key", "value"):
            sizes[f"{layer}self_attention_layer/{part}/kernel"] = (h, heads, h // heads)
            sizes[f"{layer}self_attention_layer/{part}/bias"] = (heads, h // heads)
        sizes[f"{layer}self_attention_layer/attention_output/kernel"] = (heads, h // heads, h)
        sizes[f"{layer}self_attention_layer/attention_output/bias"] = (h,)
        sizes[f"{layer}feedforward_intermediate_dense/kernel"] = (h, intermediate)
        sizes[f"{layer}feedforward_intermediate_dense/bias"] = (intermediate,)
        sizes[f"{layer}feedforward_output_dense/kernel"] = (intermediate, h)
        sizes[f"{layer}feedforward_output_dense/bias"] = (h,)
        for norm in ("self_attention_layer_norm", "feedforward_layer_norm"):
            sizes[f"{layer}{norm}/gamma"], sizes[f"{layer}{norm}/beta"] = (h,), (h,)
    return {name: rng.normal(0.0, 0.5, size).astype(np.float32) for name, size in sizes.items()}
