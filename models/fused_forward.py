"""BERT's forward pass written out for oneDNN: the same weights, fewer and fused kernels.

A KerasHub ``BertTextClassifier`` runs its dense layers on 3-D activations, so TensorFlow's graph
optimiser (Grappler's remapper) sees a reshape between each matmul and its bias and cannot fuse
them; GELU's tanh approximation then runs as eight separate element-wise kernels over the
1,536-wide feed-forward activations. Written out here on 2-D ``(tokens, hidden)`` activations, with
query, key and value in one matmul, the remapper fuses matmul + bias (+ GELU) into one oneDNN
kernel: on 2 cores with AVX512_BF16, scoring in bfloat16 ran 1.33x the Keras layers' speed on the
same rows (``bench/finetune_bench.py`` measures it against a Hugging Face script).

Training reads the task's own variables (float32, cast to the compute dtype where they are used);
scoring reads a snapshot of them cast once (``inference_weights``). Either way it scores a model
mid-training exactly as the Keras layers would: logits agree to 1e-6 in float32
(``tests/model/test_fused_forward.py``). Only the architecture KerasHub's ``BertBackbone`` builds
(post-norm, approximate GELU, learned positions) is written out; ``fused_logits_function`` returns
None for anything else and callers keep the Keras layers.

>>> from models.classifier import build_classifier
>>> from models.fused_forward import fused_logits_function, inference_weights
>>> clf = build_classifier("minilm", ("negative", "positive"), 64)  # doctest: +SKIP
>>> logits_of = fused_logits_function(clf.task)  # doctest: +SKIP
>>> logits_of(inference_weights(clf.task), clf.encode(["a lovely flight"]).batch()).shape  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import keras
import keras_hub
import tensorflow as tf

from models.bert_forward import CLS, MEAN, BertShape, forward, scoring_weights, tensorflow_ops
from models.frozen_forward import frozen_logits
from models.mean_pooled import MeanPooledBertTextClassifier


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
                     float(encoders[0].layer_norm_epsilon), float(backbone.dropout), float(task.dropout),
                     MEAN if isinstance(task, MeanPooledBertTextClassifier) else CLS)


def _weights(task: keras.Model) -> dict[str, tf.Variable]:
    # The TensorFlow variables under Keras's: a tape then traces reads of them eagerly too.
    return {w.path: w.value for w in task.weights}


def bert_logits(task: keras.Model, shape: BertShape, inputs: dict, training: bool = False,
                seed: keras.random.SeedGenerator | None = None) -> tf.Tensor:
    """The task's logits (in its compute dtype) for a batch of packed token ids.

    With ``training`` and a ``seed`` generator, dropout is applied where KerasHub applies it (after
    the embeddings, on attention probabilities, on each sublayer's output and before the head).
    """
    ops = tensorflow_ops()

    def dropout(x: tf.Tensor, rate: float, bias: tf.Tensor | None = None) -> tf.Tensor:
        if ops.training_dropout is None:
            return keras.random.dropout(x, rate, seed=seed)
        # Keras's own seeds, as its dropout takes them: int32 for the stateless kernels.
        return ops.training_dropout(x, rate, tf.cast(tf.math.floormod(seed.next(), tf.int32.max - 1), tf.int32),
                                    bias)

    return forward(_weights(task), tf.as_dtype(task.compute_dtype), shape, inputs, ops,
                   dropout if training else None)


def inference_weights(task: keras.Model) -> dict[str, tf.Tensor]:
    """The task's weights as they are now, for scoring: kernels and biases cast to the compute dtype here,
    once, the tables and layer norms the forward reads in float32 left so.

    Cast inside the graph instead, every batch re-cast 11M float32 weights to bfloat16: passing them
    cast once per scoring pass scored 1.14x the rows a second, the same probabilities, on 2 cores with
    AMX (``bench/scoring_casts_bench.py``).
    """
    return scoring_weights({w.path: w.value for w in task.weights}, tf.as_dtype(task.compute_dtype))


def fused_logits_function(task: keras.Model) -> Callable[[Mapping[str, tf.Tensor], dict], tf.Tensor] | None:
    """An untraced inference function of ``(inference_weights(task), inputs)``: float32 logits of the
    written-out forward, or None where the Keras layers must run."""
    shape = bert_shape(task)
    if shape is None:
        return None
    dtype = tf.as_dtype(task.compute_dtype)

    def logits(weights: Mapping[str, tf.Tensor], inputs: dict) -> tf.Tensor:
        return tf.cast(forward(weights, dtype, shape, inputs, tensorflow_ops()), tf.float32)

    return logits


def frozen_logits_function(task: keras.Model) -> Callable[[dict], tf.Tensor] | None:
    """Float32 logits of a batch by the task's weights as they are now, frozen into a graph of their own
    (``models.frozen_forward``: for passes of many rows), or None where the Keras layers must run."""
    shape = bert_shape(task)
    return None if shape is None else frozen_logits(inference_weights(task), tf.as_dtype(task.compute_dtype), shape)
