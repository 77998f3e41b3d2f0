"""Fine-tuning: continue training a classifier on newly labeled rows.

Adam at the tutorial's defaults (learning rate 2e-5, batch 32, 3 epochs), with a share of
the new rows held back to stop early and keep the best epoch's weights. The loop is ours,
not ``Model.fit``: one graph traced for every batch shape (``models.encoding`` pads each
batch to its own length) and none of fit's per-batch overhead, which cost half the
throughput on a 2-core CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from models.classifier import INPUT_SIGNATURE, Classifier
from models.encoding import Encoded, batches


@dataclass(frozen=True)
class TrainingConfig:
    """Per-run fine-tuning knobs."""

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 2e-5
    early_stopping_fraction: float = 0.1
    seed: int = 1337


@dataclass(frozen=True)
class EpochReport:
    """One finished epoch."""

    epoch: int
    epochs: int
    train_loss: float
    early_stopping_loss: float | None
    seconds: float


@dataclass(frozen=True)
class TrainingResult:
    """What fine-tuning did."""

    train_rows: int
    early_stopping_rows: int
    epochs_run: int
    best_epoch: int
    epochs: list[EpochReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def examples_per_second(self) -> float:
        return self.train_rows * self.epochs_run / self.seconds if self.seconds else 0.0


EpochCallback = Callable[[EpochReport], None]


def _early_stopping_split(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(count)
    # Too few rows to spare any: train on all of them and run every epoch.
    held = int(round(count * fraction)) if count >= 20 else 0
    return np.sort(order[held:]), np.sort(order[:held])


def fine_tune(
    classifier: Classifier,
    texts: Sequence[str],
    labels: Sequence[str],
    config: TrainingConfig,
    on_epoch: EpochCallback | None = None,
) -> TrainingResult:
    """Train ``classifier`` in place on labeled texts; labels are names from its label set."""
    unknown = sorted(set(labels) - set(classifier.labels))
    if unknown:
        raise ValueError(f"labels {unknown} are not in the classifier's label set {list(classifier.labels)}")
    if len(texts) == 0:
        raise ValueError("no rows to fine-tune on")
    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    index_of = {name: i for i, name in enumerate(classifier.labels)}
    y = np.array([index_of[name] for name in labels], dtype=np.int64)
    encoded = classifier.encode(list(texts))
    train_idx, stop_idx = _early_stopping_split(len(y), config.early_stopping_fraction, config.seed)

    def subset(idx: np.ndarray) -> tuple[Encoded, np.ndarray]:
        return Encoded([encoded.token_ids[i] for i in idx], encoded.sequence_length), y[idx]

    train_set, stop_set = subset(train_idx), subset(stop_idx)
    model = classifier.task
    optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = model.trainable_variables

    @tf.function(input_signature=[INPUT_SIGNATURE, tf.TensorSpec((None,), tf.int64)])
    def train_step(inputs, targets):
        with tf.GradientTape() as tape:
            loss = loss_fn(targets, model(inputs, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    @tf.function(input_signature=[INPUT_SIGNATURE, tf.TensorSpec((None,), tf.int64)])
    def loss_step(inputs, targets):
        return loss_fn(targets, model(inputs, training=False)) * tf.cast(tf.shape(targets)[0], tf.float32)

    reports: list[EpochReport] = []
    best_loss, best_epoch, best_weights = np.inf, 0, None
    for epoch in range(1, config.epochs + 1):
        epoch_started = time.perf_counter()
        losses = [
            float(train_step(inputs, train_set[1][index]))
            for inputs, index in batches(train_set[0], config.batch_size, seed=config.seed + epoch)
        ]
        stop_loss = None
        if len(stop_idx):
            total = sum(float(loss_step(inputs, stop_set[1][index]))
                        for inputs, index in batches(stop_set[0], config.batch_size * 4))
            stop_loss = total / len(stop_idx)
        report = EpochReport(epoch, config.epochs, float(np.mean(losses)), stop_loss,
                             time.perf_counter() - epoch_started)
        reports.append(report)
        if on_epoch is not None:
            on_epoch(report)
        if stop_loss is None:
            best_epoch = epoch
            continue
        if stop_loss < best_loss:
            best_loss, best_epoch = stop_loss, epoch
            best_weights = [v.numpy() for v in model.weights]
        elif epoch - best_epoch >= 1:  # patience of one epoch
            break
    if best_weights is not None and best_epoch != len(reports):
        for variable, value in zip(model.weights, best_weights, strict=True):
            variable.assign(value)
    return TrainingResult(
        train_rows=len(train_idx),
        early_stopping_rows=len(stop_idx),
        epochs_run=len(reports),
        best_epoch=best_epoch,
        epochs=reports,
        seconds=time.perf_counter() - started,
    )
