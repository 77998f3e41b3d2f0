"""A saved version scored without building its Keras model: what `retrain predict` and
``load_champion()`` run.

Loading a KerasHub task builds every layer (1.3 s on 2 cores for MiniLM) before one weight is
read, and importing TensorFlow took 3-4 s of a 4-5 s `retrain predict "text"`. Scoring needs only
the weights and the tokenizer: the weights are read from the version's ``.weights.h5`` files, the
vocabulary from its folder, and one batch (up to ``RETRAIN_EVAL_BATCH_SIZE`` texts) is scored in
float32 by NumPy (``models.bert_forward``, ``models.wordpiece``) without importing TensorFlow at all.
More texts go through the same forward traced by TensorFlow at the settings' precision (bfloat16
where the hardware has it), with tensorflow-text's tokenizer; so does every scoring inside a run,
where champion and challenger must be scored alike. The probabilities are the Keras model's
(float32: within 1e-6; ``tests/model/test_serving.py``). A version of another architecture than the
one written out loads as a Keras model instead (``load_scorer`` returns None).

>>> from models.serving import load_scorer, probabilities_of
>>> scorer = load_scorer("/srv/models/v3", expected_sha256=None, precision="float32")  # doctest: +SKIP
>>> probabilities_of(scorer, ["what a lovely flight"]).round(2)  # doctest: +SKIP
array([[0.03, 0.97]], dtype=float32)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from data.settings import Settings
from models.bert_forward import (
    HEADS,
    NUMPY,
    BertShape,
    cast_for_scoring,
    forward,
    input_signature,
    scoring_weights,
    tensorflow_ops,
)
from models.encoding import EAGER_UP_TO, Encoded, pack, tokenize
from models.frozen_forward import frozen_logits, frozen_pays
from models.hardware import compute_dtype, resolve_precision
from models.probabilities import probabilities
from models.registry import ModelVersion
from models.version_files import fetch_version, verified_labels
from models.wordpiece import WordPiece, load_wordpiece

if TYPE_CHECKING:
    from models.classifier import Classifier

# KerasHub's BertBackbone uses this epsilon in every layer norm; it is not in the saved config.
_BERT_EPSILON = 1e-12


@dataclass(frozen=True)
class Scorer:
    """A saved classifier's tokenizer and float32 weights, ready to score texts."""

    folder: Path
    wordpiece: WordPiece
    labels: tuple[str, ...]
    sequence_length: int
    weights: dict[str, np.ndarray]
    shape: BertShape
    precision: str  # a RETRAIN_PRECISION value: what the TensorFlow graph computes in (``auto`` resolved there)

    def encode(self, texts: list[str]) -> Encoded:
        """Token ids for ``texts`` at this model's sequence length: up to ``EAGER_UP_TO`` texts in plain
        Python, more by tensorflow-text (the same ids, 8.8x faster on many)."""
        ids = self.wordpiece(list(texts)) if len(texts) <= EAGER_UP_TO else tokenize(self.keras_tokenizer, texts)
        return pack(ids, self.wordpiece.start_token_id, self.wordpiece.end_token_id, self.sequence_length)

    def logits(self, inputs: dict) -> np.ndarray:
        """Float32 logits of a batch by NumPy: no TensorFlow import, nothing traced."""
        return forward(self.weights, np.float32, self.shape, inputs, NUMPY)

    @property
    def dtype(self) -> str:
        """What the TensorFlow graphs compute in on this machine (``precision`` resolved)."""
        return compute_dtype(resolve_precision(self.precision))

    @cached_property
    def keras_tokenizer(self):
        """KerasHub's tokenizer of this version (imports TensorFlow), for many texts at once."""
        import keras_hub

        return keras_hub.models.BertTokenizer.from_preset(str(self.folder))

    @cached_property
    def traced_logits(self) -> Callable[[dict], object]:
        """The forward in TensorFlow at ``precision``: one graph per architecture, shared by every Scorer of
        it in the process (a run opens the champion several times, ``retrain serve`` a new one each week)."""

        shapes = tuple(sorted((name, value.shape) for name, value in self.weights.items()))
        graph = _traced_forward(self.shape, resolve_precision(self.precision), shapes)
        # Kernels and biases cast once here, not by the graph on every batch (as models.fused_forward's).
        weights = scoring_weights(self.weights, self.dtype)
        return lambda inputs: graph(inputs, weights)

    @cached_property
    def frozen_logits(self) -> Callable[[dict], object]:
        """The forward in TensorFlow at ``precision`` with this version's kernels frozen into a graph of its
        own (``models.frozen_forward``), built on the first pass of many rows and kept for the next."""
        return frozen_logits(self.weights, self.dtype, self.shape)


@cache
def _traced_forward(shape: BertShape, policy: str, weight_shapes: tuple) -> Callable:
    """``forward`` traced once for every batch shape, with the weights as arguments (nothing captured: a
    graph keeps no version alive)."""
    import tensorflow as tf  # not Keras or KerasHub: 65 to 1,000 texts need neither (about 2 s to import)

    dtype = tf.as_dtype(compute_dtype(policy))
    weights = {name: tf.TensorSpec(size, dtype if cast_for_scoring(name) else tf.float32)
               for name, size in weight_shapes}

    def logits(inputs: dict, weight: dict) -> tf.Tensor:
        return tf.cast(forward(weight, dtype, shape, inputs, tensorflow_ops()), tf.float32)

    return tf.function(logits, input_signature=[input_signature(), weights], autograph=False)


def score(scorer: Scorer, encoded: Encoded, batch_size: int = 64, numpy_for_one_batch: bool = True) -> np.ndarray:
    """Class probabilities for every encoded row, in row order (``labels`` order). One batch is scored
    by NumPy in float32 unless ``numpy_for_one_batch`` is off (a run scores both models in one precision);
    more by the traced graph, or by the graph with the kernels frozen in where that pays (``frozen_pays``:
    many rows, on AMX). The rule goes by the call's size and the machine alone, so the same call gives
    the same probabilities whatever the process scored before."""
    if numpy_for_one_batch and len(encoded) <= batch_size:
        logits_of = scorer.logits
    else:
        logits_of = scorer.frozen_logits if frozen_pays(len(encoded), scorer.dtype) else scorer.traced_logits
    return probabilities(logits_of, encoded, batch_size, len(scorer.labels))


def probabilities_of(model: Scorer | Classifier, texts: list[str], batch_size: int = 64,
                     numpy_for_one_batch: bool = True) -> np.ndarray:
    """Class probabilities of ``texts`` (``model.labels`` order) by either kind of loaded model."""
    if isinstance(model, Scorer):
        return score(model, model.encode(texts), batch_size, numpy_for_one_batch)
    from models.classifier import predict_proba

    return predict_proba(model, model.encode(texts), batch_size)


def open_for_scoring(settings: Settings, version: ModelVersion) -> Scorer | Classifier:
    """A registered version ready to score, fetched into the settings' cache and checked: its weights
    in the written-out forward, or its Keras model where that forward does not apply."""
    folder = fetch_version(version.artifact_uri, version.artifact_sha256, settings.cache_dir)
    scorer = load_scorer(folder, version.artifact_sha256, settings.precision)
    if scorer is not None:
        return scorer
    from models.classifier import load_classifier

    # load_scorer checked the files already: Keras loads them unchecked a second time.
    return load_classifier(folder, expected_sha256=None, dtype=resolve_precision(settings.precision))


def _config(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text())


def _shape(task: dict) -> BertShape | None:
    """The written-out forward's shape of a saved task's config, or None if it is not that architecture."""
    backbone = task["config"]["backbone"]
    pooling = HEADS.get(task.get("class_name"))
    if (pooling is None or backbone.get("class_name") != "BertBackbone"
            or task["config"].get("activation") not in (None, "linear")):
        return None
    config = backbone["config"]
    if config["hidden_dim"] % config["num_heads"]:
        return None
    return BertShape(config["num_layers"], config["num_heads"], config["hidden_dim"], _BERT_EPSILON,
                     float(config["dropout"]), float(task["config"]["dropout"]), pooling)


def _keras_names(layers: int) -> dict[str, str]:
    """Each weight's Keras path -> its dataset in the saved ``.weights.h5`` files (KerasHub 0.32's
    layer attribute names, as Keras's saver writes them; ``tests/model/test_serving.py`` checks
    every one against the weights Keras loads)."""
    names = {"token_embedding/embeddings": "reversible_embedding/vars/0",
             "position_embedding/embeddings": "position_embedding/vars/0",
             "segment_embedding/embeddings": "embedding/vars/0",
             "embeddings_layer_norm/gamma": "layer_normalization/vars/0",
             "embeddings_layer_norm/beta": "layer_normalization/vars/1",
             "pooled_dense/kernel": "dense/vars/0", "pooled_dense/bias": "dense/vars/1"}
    sublayers = {"self_attention_layer/query": "_self_attention_layer/query_dense",
                 "self_attention_layer/key": "_self_attention_layer/key_dense",
                 "self_attention_layer/value": "_self_attention_layer/value_dense",
                 "self_attention_layer/attention_output": "_self_attention_layer/output_dense",
                 "feedforward_intermediate_dense": "_feedforward_intermediate_dense",
                 "feedforward_output_dense": "_feedforward_output_dense"}
    norms = {"self_attention_layer_norm": "_self_attention_layer_norm",
             "feedforward_layer_norm": "_feedforward_layer_norm"}
    for i in range(layers):
        encoder = "transformer_encoder" if i == 0 else f"transformer_encoder_{i}"
        for ours, theirs in sublayers.items():
            names[f"transformer_layer_{i}/{ours}/kernel"] = f"{encoder}/{theirs}/vars/0"
            names[f"transformer_layer_{i}/{ours}/bias"] = f"{encoder}/{theirs}/vars/1"
        for ours, theirs in norms.items():
            names[f"transformer_layer_{i}/{ours}/gamma"] = f"{encoder}/{theirs}/vars/0"
            names[f"transformer_layer_{i}/{ours}/beta"] = f"{encoder}/{theirs}/vars/1"
    return {ours: f"layers/{theirs}" for ours, theirs in names.items()}


def _read_weights(folder: Path, shape: BertShape) -> dict[str, np.ndarray] | None:
    weights: dict[str, np.ndarray] = {}
    with h5py.File(folder / "model.weights.h5", "r") as backbone, h5py.File(folder / "task.weights.h5", "r") as task:
        head = {"logits/kernel": "layers/dense/vars/0", "logits/bias": "layers/dense/vars/1"}
        for files, names in ((backbone, _keras_names(shape.layers)), (task, head)):
            for ours, theirs in names.items():
                if theirs not in files:
                    return None  # saved by another KerasHub version: let Keras read it
                weights[ours] = np.asarray(files[theirs], dtype=np.float32)
    return weights


def load_scorer(folder: str | Path, expected_sha256: str | None, precision: str = "float32") -> Scorer | None:
    """A saved classifier ready to score (``precision``: a ``RETRAIN_PRECISION`` value, for its TensorFlow
    graph), without building its Keras model or importing TensorFlow; None when it is not the architecture
    ``models.bert_forward`` writes out. Refuses a folder whose files do not match ``expected_sha256``, as
    ``load_classifier`` does."""
    folder = Path(folder)
    labels = verified_labels(folder, expected_sha256)
    shape = _shape(_config(folder, "task.json"))
    wordpiece = None if shape is None else load_wordpiece(folder)
    weights = None if wordpiece is None else _read_weights(folder, shape)
    if shape is None or wordpiece is None or weights is None:
        return None
    sequence_length = int(_config(folder, "preprocessor.json")["config"]["sequence_length"])
    return Scorer(folder=folder, wordpiece=wordpiece, labels=labels, sequence_length=sequence_length,
                  weights=weights, shape=shape, precision=precision)
