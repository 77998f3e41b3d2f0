"""A BERT text classifier whose head reads the mean of the last layer's rows instead of [CLS].

Sentence-transformers checkpoints, MiniLM's ``all-MiniLM-L6-v2`` among them, were trained to be read
as the mean of their token vectors (their ``1_Pooling/config.json`` says so); their [CLS] row and
the pooler dense over it were never trained for that. ``RETRAIN_POOLING=mean`` (or ``declared``)
gives a first model this head; the default stays KerasHub's [CLS] head, because what it bought was
mixed (README, Model quality): more on a small three-class first week, nothing on 2,000 binary rows,
and the gated three-class demo ended lower, its behaviour suite refusing better challengers.

The class is KerasHub's ``BertTextClassifier`` with another functional graph: the same weights and
paths, so a saved preset folder holds the same files, and its ``task.json`` names this class (plain
KerasHub, without this module imported, refuses it rather than reading it with the wrong head). The
backbone's pooler dense stays in the weights, frozen: nothing reads it.

>>> import keras_hub, numpy as np
>>> backbone = keras_hub.models.BertBackbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
...                                          intermediate_dim=16, max_sequence_length=16)
>>> task = MeanPooledBertTextClassifier(backbone, num_classes=3, preprocessor=None)
>>> ids = np.array([[2, 7, 3, 0]])
>>> task({"token_ids": ids, "padding_mask": ids > 0, "segment_ids": np.zeros_like(ids)}).shape
TensorShape([1, 3])
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import keras_hub

from models.bert_forward import CLS, MEAN

# The pooling a sentence-transformers folder declares, in the file it declares it in.
_POOLING_FILE = "1_Pooling/config.json"
DECLARED = "declared"  # RETRAIN_POOLING's value for "the head the base model's folder declares"


@keras.saving.register_keras_serializable(package="retrain")
class MeanPooledBertTextClassifier(keras_hub.models.BertTextClassifier):
    """``BertTextClassifier`` with a mean-pooled head: the mean of the last layer's unpadded rows,
    dropout, then the logits dense (arguments as ``BertTextClassifier``'s)."""

    def __init__(self, backbone, num_classes, preprocessor=None, activation=None, dropout=0.1, **kwargs):
        # BertTextClassifier.__init__ builds the [CLS] graph, so this repeats its layers and config and
        # calls the functional model's constructor itself.
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.output_dropout = keras.layers.Dropout(dropout, dtype=backbone.dtype_policy, name="classifier_dropout")
        self.output_dense = keras.layers.Dense(
            num_classes, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02), activation=activation,
            dtype=backbone.dtype_policy, name="logits")
        backbone.get_layer("pooled_dense").trainable = False
        inputs = backbone.input
        rows = keras.ops.cast(backbone(inputs)["sequence_output"], "float32")
        mask = keras.ops.expand_dims(keras.ops.cast(inputs["padding_mask"], "float32"), -1)
        mean = keras.ops.sum(rows * mask, axis=1) / keras.ops.sum(mask, axis=1)
        outputs = self.output_dense(self.output_dropout(mean))
        keras_hub.models.TextClassifier.__init__(self, inputs=inputs, outputs=outputs, **kwargs)
        self.num_classes = num_classes
        self.activation = keras.activations.get(activation)
        self.dropout = dropout


def declared_pooling(source: str) -> str:
    """The head a base model was trained to be read by: ``"mean"`` when its folder says it is a
    sentence-transformers model pooled by the mean of its tokens, else ``"cls"`` (KerasHub's)."""
    config = Path(source) / _POOLING_FILE
    if not config.is_file():
        return CLS
    modes = {name for name, on in json.loads(config.read_text()).items() if name.startswith("pooling_mode") and on}
    return MEAN if modes == {"pooling_mode_mean_tokens"} else CLS
