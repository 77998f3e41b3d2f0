"""Fine-tuning: continue training a classifier on newly labeled rows.

Adam (batch 32, 3 epochs; linear warm-up then linear decay, see models.schedule), with a share of
the new rows held back to stop early and keep the best epoch's weights. The loop is ours,
not ``Model.fit``: one graph traced for every batch shape (``models.encoding`` pads each
batch to its own length) and none of fit's per-batch overhead, which cost half the
throughput on a 2-core CPU.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from models.classifier import INPUT_SIGNATURE, Classifier, logits_function
from models.devices import DEFAULT_DEVICE, Devices, check_created_in_scope, mirrored_train_step
from models.encoding import Encoded, batches
from models.fused_adam import apply_adam, fusable
from models.fused_forward import bert_logits, bert_shape
from models.probabilities import log_softmax
from models.schedule import WarmupLinearDecay, steps_for


@dataclass(frozen=True)
class TrainingConfig:
    """Per-run fine-tuning knobs."""

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-4  # the peak of the schedule (see models.schedule)
    warmup_fraction: float = 0.1  # share of the steps spent warming up; then linear decay to 0
    constant_learning_rate: bool = False  # the old schedule (no warm-up, no decay), for comparison
    early_stopping_fraction: float = 0.0  # as Settings': every row trains, every epoch runs
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
    resumed_from_epoch: int = 0
    early_stopping_index: tuple[int, ...] = ()  # positions (in the rows given) held back, not trained on

    @property
    def examples_per_second(self) -> float:
        return self.train_rows * self.epochs_run / self.seconds if self.seconds else 0.0


EpochCallback = Callable[[EpochReport], None]


def _latest_checkpoint(folder: Path | None) -> Path | None:
    if folder is None or not folder.is_dir():
        return None
    complete = [p for p in folder.glob("epoch-*") if p.is_dir() and not p.name.endswith(".tmp")]
    return max(complete, key=lambda p: int(p.name.split("-")[1]), default=None)


def _assign(variables: Sequence, path: Path) -> None:
    with np.load(path) as stored:
        if len(stored.files) != len(variables):
            raise ValueError(f"checkpoint {path} holds {len(stored.files)} arrays, the model {len(variables)}")
        for i, variable in enumerate(variables):
            variable.assign(stored[f"v{i}"])


def _save_checkpoint(folder: Path, epoch: int, model, optimizer, best_weights, state: dict) -> None:
    # Written under a temporary name and renamed: a kill -9 mid-write leaves no checkpoint
    # that looks complete.
    partial = folder / f"epoch-{epoch}.tmp"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    np.savez(partial / "weights.npz", **{f"v{i}": v.numpy() for i, v in enumerate(model.weights)})
    np.savez(partial / "optimizer.npz", **{f"v{i}": v.numpy() for i, v in enumerate(optimizer.variables)})
    if best_weights is not None and not state["best_is_current"]:
        np.savez(partial / "best.npz", **{f"v{i}": w for i, w in enumerate(best_weights)})
    (partial / "state.json").write_text(json.dumps(state))
    partial.rename(folder / f"epoch-{epoch}")
    for older in folder.glob("epoch-*"):
        if older.name != f"epoch-{epoch}":
            shutil.rmtree(older, ignore_errors=True)


def _early_stopping_split(
    count: int, fraction: float, seed: int, eligible: Sequence[bool] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Positions to train on and positions held back to pick the best epoch.

    Only ``eligible`` rows may be held back: a row held back last time must be trained on now, or it
    would never be (the ledger records early-stopping rows as not consumed).
    """
    order = np.random.default_rng(seed).permutation(count)
    if eligible is not None:
        allowed = np.asarray(eligible, dtype=bool)
        order = order[allowed[order]]
    # Too few rows to spare any: train on all of them and run every epoch.
    held = min(int(round(count * fraction)), len(order)) if count >= 20 else 0
    stop = np.sort(order[:held])
    return np.setdiff1d(np.arange(count), stop), stop


def fine_tune(
    classifier: Classifier,
    texts: Sequence[str],
    labels: Sequence[str],
    config: TrainingConfig,
    on_epoch: EpochCallback | None = None,
    checkpoint_dir: Path | None = None,
    early_stopping_eligible: Sequence[bool] | None = None,
    devices: Devices = DEFAULT_DEVICE,
) -> TrainingResult:
    """Train ``classifier`` in place on labeled texts; labels are names from its label set.

    With a ``checkpoint_dir``, the weights, optimizer state and progress are saved after
    every epoch, and a call that finds a checkpoint there resumes after its epoch instead
    of starting over. The caller names the folder after everything that defines the run
    (starting model, rows, settings), so a checkpoint is only ever resumed by the same run.
    ``early_stopping_eligible`` marks the rows that may be held back to pick the best epoch
    (default: all); the result names those that were (``early_stopping_index``).

    On several ``devices`` (``models.devices``; build the classifier inside ``devices.scope()``) each
    step's batch is split across the replicas; checkpoints are the same, so a run resumes on any count.
    """
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
    train_idx, stop_idx = _early_stopping_split(len(y), config.early_stopping_fraction, config.seed,
                                                early_stopping_eligible)

    def subset(idx: np.ndarray) -> tuple[Encoded, np.ndarray]:
        return Encoded([encoded.token_ids[i] for i in idx], encoded.sequence_length), y[idx]

    train_set, stop_set = subset(train_idx), subset(stop_idx)
    model = classifier.task
    check_created_in_scope(devices, model.weights)
    total_steps = steps_for(len(train_idx), config.batch_size, config.epochs)
    with devices.scope():  # the optimizer's state lives where the weights do (on every replica)
        optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate if config.constant_learning_rate else
                                          WarmupLinearDecay(config.learning_rate, total_steps,
                                                            round(total_steps * config.warmup_fraction)))
        optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = model.trainable_variables
    # BERT's forward written out for oneDNN and Adam as one kernel a variable (models.fused_forward,
    # models.fused_adam): 1.16x the Keras layers' step in bfloat16. Anything else keeps Keras's.
    shape = bert_shape(model)
    dropout_seed = keras.random.SeedGenerator(config.seed)

    def forward(inputs):
        if shape is None:
            return model(inputs, training=True)
        return bert_logits(model, shape, inputs, training=True, seed=dropout_seed)

    @tf.function(input_signature=[INPUT_SIGNATURE, tf.TensorSpec((None,), tf.int64)], autograph=False)
    def train_step(inputs, targets):
        with tf.GradientTape() as tape:
            # Under a mixed policy the logits are bfloat16; the loss is taken in float32.
            loss = loss_fn(targets, tf.cast(forward(inputs), tf.float32))
        gradients = tape.gradient(loss, variables)
        if fusable(optimizer):
            apply_adam(optimizer, gradients, variables)
        else:
            optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    if devices.mirrored:  # one device keeps the step above: no strategy, no overhead
        train_step = mirrored_train_step(devices, model, optimizer, variables)

    def summed_loss(logits_of, inputs, targets: np.ndarray) -> float:  # cross-entropy, summed over the batch
        return float(-log_softmax(logits_of(inputs).numpy())[np.arange(len(targets)), targets].sum())

    reports: list[EpochReport] = []
    best_loss, best_epoch, best_weights = np.inf, 0, None
    resumed = _latest_checkpoint(checkpoint_dir)
    if resumed is not None:
        state = json.loads((resumed / "state.json").read_text())
        _assign(model.weights, resumed / "weights.npz")
        _assign(optimizer.variables, resumed / "optimizer.npz")
        reports = [EpochReport(**r) for r in state["reports"]]
        best_loss = state["best_loss"] if state["best_loss"] is not None else np.inf
        best_epoch = state["best_epoch"]
        if (resumed / "best.npz").exists():
            with np.load(resumed / "best.npz") as stored:
                best_weights = [stored[f"v{i}"] for i in range(len(stored.files))]
        elif state["best_is_current"]:
            best_weights = [v.numpy() for v in model.weights]
    stopped = resumed is not None and json.loads((resumed / "state.json").read_text())["stopped"]
    for epoch in range(len(reports) + 1, config.epochs + 1):
        if stopped:
            break
        epoch_started = time.perf_counter()
        losses = [
            float(train_step(inputs, train_set[1][index]))
            for inputs, index in batches(train_set[0], config.batch_size, seed=config.seed + epoch)
        ]
        stop_loss = None
        if len(stop_idx):
            logits_of = logits_function(model)  # this epoch's weights; the graph scoring uses later, traced once
            total = sum(summed_loss(logits_of, inputs, stop_set[1][index])
                        for inputs, index in batches(stop_set[0], config.batch_size * 2))
            stop_loss = total / len(stop_idx)
        report = EpochReport(epoch, config.epochs, float(np.mean(losses)), stop_loss,
                             time.perf_counter() - epoch_started)
        reports.append(report)
        if stop_loss is None:
            best_epoch = epoch
        elif stop_loss < best_loss:
            best_loss, best_epoch = stop_loss, epoch
            best_weights = [v.numpy() for v in model.weights]
        else:
            stopped = epoch - best_epoch >= 1  # patience of one epoch
        if checkpoint_dir is not None:
            _save_checkpoint(checkpoint_dir, epoch, model, optimizer, best_weights, {
                "reports": [asdict(r) for r in reports], "best_epoch": best_epoch,
                "best_loss": None if np.isinf(best_loss) else best_loss,
                "best_is_current": best_epoch == epoch, "stopped": stopped,
            })
        if on_epoch is not None:
            on_epoch(report)
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
        resumed_from_epoch=int(resumed.name.split("-")[1]) if resumed is not None else 0,
        early_stopping_index=tuple(int(i) for i in stop_idx),
    )
