"""A model version as a TensorFlow SavedModel for TF Serving or ``tf.saved_model.load``, no retrain needed.

The serving signature takes a batch of strings (``text``) and returns ``probabilities`` (float32,
one column per class, in ``labels.json`` order) and ``label`` (the most probable label, a string):
the tokenizer (MiniLM's WordPiece, through tensorflow-text ops) is inside the graph, so a caller
needs only ``tensorflow`` and ``tensorflow_text`` (``import tensorflow_text`` registers its ops)::

    import tensorflow as tf, tensorflow_text  # noqa: F401
    serve = tf.saved_model.load("export/v3").signatures["serving_default"]
    serve(text=tf.constant(["what a lovely flight"]))["probabilities"]
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import keras_hub
import tensorflow as tf

from models.classifier import Classifier

LABELS_FILE = "labels.json"


def export_saved_model(classifier: Classifier, folder: str | Path, version: int | None = None) -> Path:
    """Write ``classifier`` to ``folder`` (which must not exist) as a SavedModel; returns the folder."""
    folder = Path(folder)
    if folder.exists():
        raise FileExistsError(f"{folder} exists; export into a new folder")
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer=classifier.tokenizer, sequence_length=classifier.sequence_length)
    preprocessor(tf.constant(["build"]))  # Keras exports only built layers
    labels = tf.constant(list(classifier.labels))
    model = classifier.task

    def serve(text: tf.Tensor) -> dict[str, tf.Tensor]:
        logits = tf.cast(model(preprocessor(text), training=False), tf.float32)
        probabilities = tf.nn.softmax(logits, axis=-1)
        return {"probabilities": probabilities, "label": tf.gather(labels, tf.argmax(probabilities, axis=-1))}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(preprocessor)
    archive.add_endpoint("serve", serve, input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    archive.write_out(str(folder), verbose=False)
    (folder / LABELS_FILE).write_text(json.dumps({"labels": list(classifier.labels), "version": version,
                                                  "sequence_length": classifier.sequence_length}))
    return folder
