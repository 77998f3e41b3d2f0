"""Fine-tuning on one device and on two mirrored logical CPU devices, in one fresh process.

``python -m tests.two_devices BASE_MODEL WORK_DIR`` splits the CPU into two logical devices (possible
only before TensorFlow initialises: hence a process of its own, started by tests/system/test_devices.py),
then writes WORK_DIR/result.json with what the test asserts on:

- ``step``: one SGD step of a dropout-free model on an odd batch (4 rows on one replica, 3 on the
  other) against the same step on one device: the largest weight difference and the largest update.
- ``runs``: held-out predictions of fine-tuning on one and on two devices (each resumed from its own
  checkpoint after two epochs), and of runs resumed from the other device count's checkpoint.
- ``checkpoints``: the arrays of each device count's checkpoint (names, shapes, dtypes).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

LOGICAL_CPUS = 2
EPOCHS, HALF = 4, 2


def split_cpu() -> None:
    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * LOGICAL_CPUS)


def one_step_difference(devices, vocabulary: str) -> dict:
    """One step on two replicas against one device, from the same weights, without dropout."""
    import keras
    import keras_hub
    import numpy as np
    import tensorflow as tf

    from models.classifier import INPUT_SIGNATURE
    from models.devices import mirrored_train_step
    from models.encoding import batches, encode

    def build():
        keras.utils.set_random_seed(3)
        backbone = keras_hub.models.BertBackbone(vocabulary_size=30522, num_layers=1, num_heads=2, hidden_dim=16,
                                                 intermediate_dim=32, max_sequence_length=32, dropout=0.0)
        return keras_hub.models.BertTextClassifier(backbone=backbone, num_classes=2, preprocessor=None,
                                                   dropout=0.0)

    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    texts = ["a great film", "an awful day today", "happy", "sad and terrible service", "love it", "hate it",
             "the food was really excellent tonight"]
    inputs, _ = next(batches(encode(tokenizer, texts, 32), batch_size=len(texts)))
    targets = np.array([1, 0, 1, 0, 1, 0, 1], dtype=np.int64)

    single = build()
    single_optimizer = keras.optimizers.SGD(learning_rate=0.5)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(input_signature=[INPUT_SIGNATURE, tf.TensorSpec((None,), tf.int64)])
    def single_step(batch, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, single(batch, training=True))
        grads = tape.gradient(loss, single.trainable_variables)
        single_optimizer.apply_gradients(zip(grads, single.trainable_variables, strict=True))
        return loss

    before = [w.numpy() for w in single.weights]
    single_loss = float(single_step(inputs, targets))
    with devices.scope():
        mirrored = build()
        mirrored_optimizer = keras.optimizers.SGD(learning_rate=0.5)
        mirrored_optimizer.build(mirrored.trainable_variables)
    for variable, value in zip(mirrored.weights, before, strict=True):
        variable.assign(value)
    step = mirrored_train_step(devices, mirrored, mirrored_optimizer, mirrored.trainable_variables)
    mirrored_loss = float(step(inputs, targets))
    after_single = [w.numpy() for w in single.weights]
    after_mirrored = [w.numpy() for w in mirrored.weights]
    return {
        "loss_single": single_loss, "loss_mirrored": mirrored_loss,
        "max_weight_difference": max(float(np.abs(a - b).max()) for a, b in zip(after_single, after_mirrored,
                                                                                 strict=True)),
        "max_update": max(float(np.abs(a - b).max()) for a, b in zip(after_single, before, strict=True)),
    }


def main(base_model: str, work: Path) -> None:
    split_cpu()
    from models.classifier import build_classifier, predict_proba
    from models.devices import DEFAULT_DEVICE, resolve_devices
    from models.training import TrainingConfig, fine_tune
    from tests.helpers import sentiment_rows

    two = resolve_devices(str(LOGICAL_CPUS))
    assert two.mirrored and two.count == LOGICAL_CPUS, two
    assert not resolve_devices("auto").mirrored  # no GPU here: auto stays on the default device
    train = sentiment_rows(240, seed=31)
    held_out = sentiment_rows(300, seed=32)

    def run(devices, epochs: int, checkpoints: Path | None) -> dict:
        started = time.perf_counter()
        with devices.scope():
            classifier = build_classifier(base_model, ("negative", "positive"), sequence_length=32, seed=5)
            # A constant rate: what is compared is the device count, and the tiny model learns in 4 epochs with it.
            config = TrainingConfig(epochs=epochs, batch_size=16, learning_rate=3e-3, early_stopping_fraction=0.0,
                                    seed=11, constant_learning_rate=True)
            result = fine_tune(classifier, [t for t, _ in train], [label for _, label in train], config,
                               checkpoint_dir=checkpoints, devices=devices)
        probabilities = predict_proba(classifier, classifier.encode([t for t, _ in held_out]))
        predicted = [classifier.labels[i] for i in probabilities.argmax(axis=1)]
        return {"predictions": predicted, "resumed_from_epoch": result.resumed_from_epoch,
                "epochs_run": result.epochs_run, "train_losses": [r.train_loss for r in result.epochs],
                "seconds": time.perf_counter() - started}

    def arrays(folder: Path) -> dict:
        import numpy as np

        (checkpoint,) = folder.glob("epoch-*")
        described = {"epoch": checkpoint.name}
        for path in sorted(checkpoint.glob("*.npz")):
            with np.load(path) as stored:
                described[path.name] = [[key, list(stored[key].shape), str(stored[key].dtype)] for key in stored.files]
        return described

    # Two epochs on each device count, then each checkpoint is resumed for the remaining epochs by
    # its own device count and, from a copy, by the other one.
    runs = {"one_half": run(DEFAULT_DEVICE, HALF, work / "one"), "two_half": run(two, HALF, work / "two")}
    checkpoints = {"one": arrays(work / "one"), "two": arrays(work / "two")}
    shutil.copytree(work / "one", work / "one-copy")
    shutil.copytree(work / "two", work / "two-copy")
    runs["one"] = run(DEFAULT_DEVICE, EPOCHS, work / "one")
    runs["two"] = run(two, EPOCHS, work / "two")
    runs["two_resumes_one"] = run(two, EPOCHS, work / "one-copy")
    runs["one_resumes_two"] = run(DEFAULT_DEVICE, EPOCHS, work / "two-copy")
    result = {"truth": [label for _, label in held_out], "runs": runs, "checkpoints": checkpoints,
              "step": one_step_difference(two, vocabulary_of(base_model))}
    (work / "result.json").write_text(json.dumps(result))


def vocabulary_of(base_model: str) -> str:
    return str(Path(base_model) / "assets" / "tokenizer" / "vocabulary.txt")


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    main(sys.argv[1], Path(sys.argv[2]))
