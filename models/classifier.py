"""The classifier: a KerasHub ``BertTextClassifier`` with its tokenizer and label names.

Models are fed token ids we pack ourselves (see ``models.encoding``), so the task's own
preprocessor stays detached while training and scoring and is attached only to save a
self-contained KerasHub preset folder.

>>> from models.classifier import build_classifier, save_classifier, load_classifier
>>> clf = build_classifier("minilm", labels=("negative", "positive"), sequence_length=64)  # doctest: +SKIP
>>> digest = save_classifier(clf, "/tmp/v1")  # doctest: +SKIP
>>> load_classifier("/tmp/v1", expected_sha256=digest).labels  # doctest: +SKIP
('negative', 'positive')
"""

from __future__ import annotations

import json
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from models.base_model import resolve_base_model, tokenizer_options
from models.bert_forward import CLS, HEADS, MEAN, input_signature
from models.encoding import Encoded, encode
from models.frozen_forward import frozen_pays
from models.fused_forward import frozen_logits_function, fused_logits_function, inference_weights
from models.mean_pooled import DECLARED, MeanPooledBertTextClassifier, declared_pooling
from models.probabilities import probabilities
from models.traced import traced_for
from models.version_files import LABELS_FILE, folder_sha256, verified_labels

# Batches arrive padded to their own length: one traced graph serves every shape. The traced functions
# (scoring here and in models.serving, the training step) branch only on Python values, so they are
# traced with autograph=False: converting their source took 0.9 s of a 1.0 s trace of the forward.
INPUT_SIGNATURE = input_signature()


_LOGITS_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class Classifier:
    """A text classifier ready to train or score."""

    task: keras_hub.models.BertTextClassifier
    tokenizer: keras_hub.models.BertTokenizer
    labels: tuple[str, ...]
    sequence_length: int

    def encode(self, texts: list[str]) -> Encoded:
        """Token ids for ``texts`` at this classifier's sequence length."""
        return encode(self.tokenizer, texts, self.sequence_length)


def build_classifier(
    base_model: str, labels: tuple[str, ...], sequence_length: int, seed: int = 1337, dtype: str = "float32",
    pooling: str = CLS,
) -> Classifier:
    """A new classifier on a base model, with a freshly initialised head for ``labels``.

    ``dtype`` is a Keras dtype policy name (``models.hardware.resolve_precision`` picks one). ``pooling``
    is the head: ``"cls"`` (KerasHub's), ``"mean"`` (``models.mean_pooled``) or ``"declared"``, the one
    the base model's folder declares.
    """
    source = resolve_base_model(base_model)
    if pooling == DECLARED:  # the head the base model was trained to be read by: MiniLM's is the mean
        pooling = declared_pooling(source)
    if pooling not in (CLS, MEAN):
        raise ValueError(f"pooling {pooling!r}: expected {CLS!r}, {MEAN!r} or {DECLARED!r}")
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone.from_preset(source, dtype=dtype)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(source, **tokenizer_options(source))
    if sequence_length > backbone.max_sequence_length:
        raise ValueError(
            f"sequence_length {sequence_length} exceeds the base model's "
            f"{backbone.max_sequence_length} positions ({base_model})"
        )
    head = MeanPooledBertTextClassifier if pooling == MEAN else keras_hub.models.BertTextClassifier
    task = head(backbone=backbone, num_classes=len(labels), preprocessor=None)
    return Classifier(task=task, tokenizer=tokenizer, labels=tuple(labels),
                      sequence_length=sequence_length)


def save_classifier(classifier: Classifier, folder: str | Path) -> str:
    """Save as a KerasHub preset folder (weights only, no optimizer state); return its sha256."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=False)
    task = classifier.task
    task.preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer=classifier.tokenizer, sequence_length=classifier.sequence_length
    )
    # Without this the optimizer's state is saved too: 273 MB instead of 91 MB for MiniLM.
    optimizer, task.optimizer = getattr(task, "optimizer", None), None
    try:
        task.save_to_preset(str(folder))
    finally:
        task.preprocessor, task.optimizer = None, optimizer
    (folder / LABELS_FILE).write_text(json.dumps({"labels": list(classifier.labels)}))
    return folder_sha256(folder)


def load_classifier(folder: str | Path, expected_sha256: str | None, dtype: str = "float32") -> Classifier:
    """Load a saved classifier to compute in ``dtype``, refusing it when its files do not match
    ``expected_sha256``. The weights are float32 whatever the policy it was trained in."""
    folder = Path(folder)
    labels = verified_labels(folder, expected_sha256)
    # No num_classes here: passing it re-initialises the fine-tuned head. The warning
    # silenced is Keras noting that the preset (by design) holds no optimizer state.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        # The dtype is always given: KerasHub cannot read back a saved mixed policy on its own.
        task = _task_class(folder).from_preset(str(folder), dtype=dtype)
    preprocessor = task.preprocessor
    task.preprocessor = None
    return Classifier(task=task, tokenizer=preprocessor.tokenizer, labels=labels,
                      sequence_length=int(preprocessor.sequence_length))


def _task_class(folder: Path) -> type[keras_hub.models.TextClassifier]:
    # The class task.json names, not TextClassifier's guess: with models.mean_pooled registered, KerasHub
    # could pick either BERT class for a BertBackbone and build the other's head over saved weights.
    head = HEADS.get(json.loads((folder / "task.json").read_text()).get("class_name"))
    if head is None:
        return keras_hub.models.TextClassifier
    return MeanPooledBertTextClassifier if head == MEAN else keras_hub.models.BertTextClassifier


def logits_function(model: keras.Model) -> Callable[[dict], tf.Tensor]:
    """The model's float32 logits in inference mode, for the weights it holds now (call it again after
    they change), as one graph per model for every batch shape.

    The graph is cached, so scoring after fine-tuning reuses the one the early-stopping passes traced
    and warmed; the weights are cast to the compute dtype once per call of this function, not per batch.
    """
    forward = fused_logits_function(model)
    # BERT's forward written out so that oneDNN fuses it (``models.fused_forward``): 1.33x scoring
    # throughput on the same weights; any other architecture keeps the Keras layers.
    weights = inference_weights(model) if forward else {}
    signature = {path: tf.TensorSpec(value.shape, value.dtype) for path, value in weights.items()}
    traced = traced_for(_LOGITS_FUNCTIONS, model, _inference_logits, input_signature=[signature, INPUT_SIGNATURE],
                        autograph=False)
    return lambda inputs: traced(weights, inputs)


def _inference_logits(model: keras.Model, weights: dict, inputs: dict) -> tf.Tensor:
    forward = fused_logits_function(model)
    return forward(weights, inputs) if forward else tf.cast(model(inputs, training=False), tf.float32)


def predict_proba(classifier: Classifier, encoded: Encoded, batch_size: int = 64) -> np.ndarray:
    """Class probabilities for every encoded row, in row order."""
    model = classifier.task
    if frozen_pays(len(encoded), model.compute_dtype) and (frozen := frozen_logits_function(model)) is not None:
        # Many rows: a graph with this pass's kernels frozen in pays its tracing back (models.frozen_forward).
        logits_of = frozen
    elif model in _LOGITS_FUNCTIONS or len(encoded) > batch_size:
        logits_of = logits_function(model)
    else:
        # One batch in a fresh process: tracing the graph took six times as long as running the model
        # eagerly once.
        def logits_of(inputs: dict) -> tf.Tensor:
            return tf.cast(model(inputs, training=False), tf.float32)
    return probabilities(logits_of, encoded, batch_size, len(classifier.labels))
