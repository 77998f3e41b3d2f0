"""BERT's forward pass written out for oneDNN: the same weights, fewer and fused kernels.

A KerasHub ``BertTextClassifier`` runs its dense layers on 3-D activations, so TensorFlow's graph
optimiser (Grappler's remapper) sees a reshape between each matmul and its bias and cannot fuse
them; GELU's tanh approximation then runs as eight separate element-wise kernels over the
1,536-wide feed-forward activations. Written out here on 2-D ``(tokens, hidden)`` activations, with
query, key and value in one matmul, the remapper fuses matmul + bias (+ GELU) into one oneDNN
kernel: on 2 cores with AVX512_BF16, scoring in bfloat16 ran 1.33x the Keras layers' speed on the
same rows (``bench/finetune_bench.py`` measures it against a Hugging Face script).

It reads the task's own variables (float32, cast to the compute dtype where they are used), so it
scores a model mid-training exactly as the Keras layers would: logits agree to 1e-6 in float32
(``tests/model/test_fused_forward.py``). Only the architecture KerasHub's ``BertBackbone`` builds
(post-norm, approximate GELU, learned positions) is written out; ``fused_logits_function`` returns
None for anything else and callers keep the Keras layers.

>>> from models.classifier import build_classifier
>>> from models.fused_forward import fused_logits_function
>>> clf = build_classifier("minilm", ("negative", "positive"), 64)  # doctest: +SKIP
>>> logits_of = fused_logits_function(clf.task)  # doctest: +SKIP
>>> logits_of(clf.encode(["a lovely flight"]).batch()).shape  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import keras
import keras_hub
import tensorflow as tf


@dataclass(frozen=True)
class BertShape:
    """What the written-out forward needs to know of a backbone besides its weights."""

    layers: int
    heads: int
    hidden: int
    epsilon: float
    dropout: float
    head_dropout: float


def bert_shape(task: keras.Model) -> BertShape | None:
    """The backbone's shape if this forward reproduces it, else None (keep the Keras layers)."""
    backbone = getattr(task, "backbone", None)
    if not isinstance(task, keras_hub.models.BertTextClassifier) or not isinstance(
            backbone, keras_hub.models.BertBackbone):
        return None
    encoders = [backbone.get_layer(f"transformer_layer_{i}") for i in range(backbone.num_layers)]
    if (any(e.normalize_first for e in encoders) or backbone.hidden_dim % backbone.num_heads
            or task.activation is not keras.activations.linear):
        return None
    return BertShape(backbone.num_layers, backbone.num_heads, backbone.hidden_dim,
                     float(encoders[0].layer_norm_epsilon), float(backbone.dropout), float(task.dropout))


def _weights(task: keras.Model) -> dict[str, tf.Variable]:
    # The TensorFlow variables under Keras's: a tape then traces reads of them eagerly too.
    return {w.path: w.value for w in task.weights}


def bert_logits(task: keras.Model, shape: BertShape, inputs: dict, training: bool = False,
                seed: keras.random.SeedGenerator | None = None) -> tf.Tensor:
    """The task's logits (in its compute dtype) for a batch of packed token ids.

    With ``training`` and a ``seed`` generator, dropout is applied where KerasHub applies it (after
    the embeddings, on attention probabilities, on each sublayer's output and before the head).
    """
    return forward(_weights(task), tf.as_dtype(task.compute_dtype), shape, inputs, training, seed)


def forward(weight: Mapping[str, tf.Tensor], dtype: tf.DType, shape: BertShape, inputs: dict,
            training: bool = False, seed: keras.random.SeedGenerator | None = None) -> tf.Tensor:
    """Logits in ``dtype`` from float32 weights named by their Keras paths (``task.weights``'
    ``path``: ``"transformer_layer_0/self_attention_layer/query/kernel"``, ``"logits/bias"``)."""
    hidden, heads = shape.hidden, shape.heads
    width = hidden // heads

    def w(path: str) -> tf.Tensor:
        return tf.cast(weight[path], dtype)

    def dropout(x: tf.Tensor, rate: float) -> tf.Tensor:
        return keras.random.dropout(x, rate, seed=seed) if training and rate else x

    def dense(x: tf.Tensor, name: str, units: int, activation: str | None = None) -> tf.Tensor:
        y = tf.nn.bias_add(tf.matmul(x, tf.reshape(w(name + "/kernel"), [-1, units])),
                           tf.reshape(w(name + "/bias"), [units]))
        return tf.nn.gelu(y, approximate=True) if activation == "gelu" else y

    def layer_norm(x: tf.Tensor, name: str) -> tf.Tensor:
        x = tf.cast(x, tf.float32)  # as Keras does: statistics in float32 under a mixed policy
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        scaled = (x - mean) * tf.math.rsqrt(variance + shape.epsilon)
        return tf.cast(scaled * weight[name + "/gamma"] + weight[name + "/beta"], dtype)

    ids = inputs["token_ids"]
    batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
    # Rows are gathered from the float32 tables: casting a 30,522-row table first would cost a
    # dense cast (and, in training, a dense gradient) of all of it every step.
    x = (tf.gather(weight["token_embedding/embeddings"], ids)
         + weight["position_embedding/embeddings"][None, :length]
         + tf.gather(weight["segment_embedding/embeddings"], inputs["segment_ids"]))
    x = dropout(layer_norm(tf.reshape(x, [-1, hidden]), "embeddings_layer_norm"), shape.dropout)
    # Padding keys get a large negative score: exp() of it is 0 in bfloat16 and float32 alike.
    key_bias = (1.0 - tf.cast(inputs["padding_mask"], dtype))[:, None, None, :] * tf.constant(-1e4, dtype)
    scale = tf.constant(width ** -0.5, dtype)

    def kernel(path: str) -> tf.Tensor:
        return tf.reshape(w(path + "/kernel"), [hidden, hidden])

    def bias(path: str) -> tf.Tensor:
        return tf.reshape(w(path + "/bias"), [hidden])

    def split_heads(t: tf.Tensor, parts: int, rows: tf.Tensor) -> list[tf.Tensor]:
        # (batch * rows, parts * hidden) -> parts x (batch, heads, rows, width). Unstacked, not indexed:
        # indexing's gradient writes a full-size zero tensor per slice (StridedSliceGrad: 14% of a step).
        return tf.unstack(tf.transpose(tf.reshape(t, [batch, rows, parts, heads, width]), [2, 0, 3, 1, 4]))

    for i in range(shape.layers):
        name = f"transformer_layer_{i}/"
        attention = name + "self_attention_layer/"
        if i < shape.layers - 1:
            qkv = tf.nn.bias_add(tf.matmul(x, tf.concat([kernel(attention + p) for p in ("query", "key", "value")], 1)),
                                 tf.concat([bias(attention + p) for p in ("query", "key", "value")], 0))
            query, key, value = split_heads(qkv, 3, length)
        else:
            # Only the [CLS] row of the last layer reaches the head: every row gives keys and values,
            # but only [CLS] asks a query, and only its row goes on through the layer. The logits are
            # the same; MiniLM's six layers do 14% fewer FLOPs on a tweet, forward and backward.
            kv = tf.nn.bias_add(tf.matmul(x, tf.concat([kernel(attention + p) for p in ("key", "value")], 1)),
                                tf.concat([bias(attention + p) for p in ("key", "value")], 0))
            key, value = split_heads(kv, 2, length)
            x = tf.reshape(x, [batch, length, hidden])[:, 0]
            (query,) = split_heads(tf.nn.bias_add(tf.matmul(x, kernel(attention + "query")),
                                                  bias(attention + "query")), 1, 1)
        scores = tf.matmul(query * scale, key, transpose_b=True) + key_bias
        probabilities = dropout(tf.nn.softmax(scores, axis=-1), shape.dropout)
        context = tf.reshape(tf.transpose(tf.matmul(probabilities, value), [0, 2, 1, 3]), [-1, hidden])
        attended = dropout(dense(context, attention + "attention_output", hidden), shape.dropout)
        x = layer_norm(x + attended, name + "self_attention_layer_norm")
        inner = dense(x, name + "feedforward_intermediate_dense",
                      int(weight[name + "feedforward_intermediate_dense/bias"].shape[0]), "gelu")
        fed = dropout(dense(inner, name + "feedforward_output_dense", hidden), shape.dropout)
        x = layer_norm(x + fed, name + "feedforward_layer_norm")
    first = x if shape.layers else tf.reshape(x, [batch, length, hidden])[:, 0]
    pooled = tf.tanh(dense(first, "pooled_dense", hidden))
    return dense(dropout(pooled, shape.head_dropout), "logits", int(weight["logits/bias"].shape[0]))


def fused_logits_function(task: keras.Model) -> Callable[[dict], tf.Tensor] | None:
    """An untraced inference function: float32 logits of the written-out forward, or None."""
    shape = bert_shape(task)
    if shape is None:
        return None

    def logits(inputs: dict) -> tf.Tensor:
        return tf.cast(bert_logits(task, shape, inputs), tf.float32)

    return logits
