"""Which devices fine-tuning runs on: TensorFlow's default one, or replicas mirrored with ``MirroredStrategy``.

``RETRAIN_DEVICES`` says which:

- ``auto`` (the default): every visible GPU when there are two or more, else the default device
  (one GPU, or the CPU) with no strategy at all, so one device pays nothing for the option;
- a count ``N``: ``N`` mirrored replicas on the first ``N`` GPUs, or, on a machine without GPUs, on
  ``N`` logical CPU devices (what the tests split the CPU into to prove the mirrored path here);
  ``1`` is the default device;
- ``cpu``: the CPU, even where GPUs are visible.

With several replicas each optimizer step takes one global batch of ``batch_size`` rows, split
across the replicas; each replica's loss is its rows' summed cross-entropy divided by the *global*
batch size, so the gradients the optimizer sums over the replicas are those of the global batch's
mean loss, the same step one device takes.

>>> replica_devices("auto", gpus=[], cpus=["/device:CPU:0"]) is None
True
>>> replica_devices("auto", gpus=["/device:GPU:0", "/device:GPU:1"], cpus=["/device:CPU:0"])
('/device:GPU:0', '/device:GPU:1')
>>> replica_devices("2", gpus=[], cpus=["/device:CPU:0", "/device:CPU:1"])
('/device:CPU:0', '/device:CPU:1')
>>> replica_devices("cpu", gpus=["/device:GPU:0"], cpus=["/device:CPU:0"])
('/device:CPU:0',)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from data.settings import DEVICES_PATTERN


def check_devices_setting(setting: str) -> str:
    """``auto``, ``cpu`` or a positive count; anything else is refused with the setting's name.

    >>> check_devices_setting(" 2 ")
    '2'
    >>> check_devices_setting("two")
    Traceback (most recent call last):
    ...
    ValueError: RETRAIN_DEVICES must be 'auto', 'cpu' or a number of devices (1, 2, ...), got 'two'
    """
    cleaned = setting.strip().lower()
    if re.fullmatch(DEVICES_PATTERN, cleaned) is None:
        raise ValueError(f"RETRAIN_DEVICES must be 'auto', 'cpu' or a number of devices (1, 2, ...), got {setting!r}")
    return cleaned


def replica_devices(setting: str, gpus: Sequence[str], cpus: Sequence[str]) -> tuple[str, ...] | None:
    """The devices to mirror over, one pinned device, or ``None`` for TensorFlow's default placement,
    given the names of the visible (logical) ``gpus`` and ``cpus``."""
    setting = check_devices_setting(setting)
    if setting == "cpu":
        return (cpus[0],)
    if setting == "auto":
        return tuple(gpus) if len(gpus) > 1 else None
    count = int(setting)
    if count == 1:
        return None
    pool = gpus if gpus else cpus
    if len(pool) < count:
        kind = "GPUs" if gpus else "GPUs, and no logical CPU devices either"
        raise ValueError(f"RETRAIN_DEVICES={count} but this machine has {len(pool)} {kind}: "
                         f"{', '.join(pool) or 'none'}")
    return tuple(pool[:count])


@dataclass(frozen=True)
class Devices:
    """Where fine-tuning runs. Build or load the classifier inside ``scope()`` and fine-tune it there:
    the variables (model and optimizer) must be created where the training steps run."""

    replicas: tuple[str, ...] | None
    strategy: Any = None  # tf.distribute.MirroredStrategy with two or more replicas

    @property
    def count(self) -> int:
        return len(self.replicas) if self.replicas else 1

    @property
    def mirrored(self) -> bool:
        return self.strategy is not None

    def describe(self) -> str:
        if self.replicas is None:
            return "the default device"
        return f"{self.count} mirrored replicas ({', '.join(self.replicas)})" if self.mirrored else self.replicas[0]

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Variables created inside live on these devices (mirrored on every replica)."""
        if self.strategy is not None:
            with self.strategy.scope():
                yield
        elif self.replicas is not None:
            import tensorflow as tf

            with tf.device(self.replicas[0]):
                yield
        else:
            yield


DEFAULT_DEVICE = Devices(replicas=None)


def resolve_devices(setting: str) -> Devices:
    """The devices for ``RETRAIN_DEVICES`` on this machine (what TensorFlow sees now)."""
    import tensorflow as tf

    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    replicas = replica_devices(setting, gpus, cpus)
    if replicas is None or len(replicas) == 1:
        return Devices(replicas)
    return Devices(replicas, tf.distribute.MirroredStrategy(devices=list(replicas)))


def check_created_in_scope(devices: Devices, variables: Sequence) -> None:
    """Refuse a model built outside the strategy's scope: its weights would not be mirrored."""
    if devices.mirrored and variables and not devices.strategy.extended.variable_created_in_scope(variables[0].value):
        raise ValueError(f"the classifier was built outside devices.scope(); training on {devices.describe()} "
                         "needs its variables created there")


def shards(values: np.ndarray, count: int) -> list[np.ndarray]:
    """``values`` split along the first axis into ``count`` nearly equal, contiguous parts (some may be empty).

    >>> [part.tolist() for part in shards(np.arange(5), 2)]
    [[0, 1, 2], [3, 4]]
    """
    return np.array_split(values, count)


def mirrored_train_step(devices: Devices, model, optimizer, variables: Sequence) -> Callable[[dict, np.ndarray], Any]:
    """One optimizer step on a global batch, split across the replicas: ``step(inputs, targets) -> mean loss``.

    The same contract as the single-device step in ``models.training``: numpy inputs of one padded
    batch in, the batch's mean cross-entropy out.
    """
    import keras
    import tensorflow as tf

    strategy = devices.strategy

    def replica_step(inputs, targets, global_rows):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(inputs, training=True), tf.float32)
            per_row = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
            # Summed over this replica's rows, divided by the global batch: the optimizer sums the
            # replicas' gradients, which then equal the global batch's mean-loss gradient.
            loss = tf.reduce_sum(per_row) / global_rows
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    # Batches come padded to a few bucketed widths; relaxed shapes keep the retracing to a few graphs.
    @tf.function(reduce_retracing=True)
    def distributed_step(inputs, targets, global_rows):
        losses = strategy.run(replica_step, args=(inputs, targets, global_rows))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    def step(inputs: dict[str, np.ndarray], targets: np.ndarray):
        split_inputs = {name: shards(array, devices.count) for name, array in inputs.items()}
        split_targets = shards(targets, devices.count)

        def per_replica(parts):
            return strategy.experimental_distribute_values_from_function(
                lambda context: parts[context.replica_id_in_sync_group])

        return distributed_step({name: per_replica(parts) for name, parts in split_inputs.items()},
                                per_replica(split_targets), tf.constant(len(targets), tf.float32))

    return step
