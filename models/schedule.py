"""The fine-tuning learning-rate schedule: linear warm-up, then linear decay to zero.

BERT's recipe. A constant 2e-5 converged slowly on a few hundred long texts in one epoch;
warming up lets a higher peak rate be safe for the freshly initialised head, and decaying
to zero settles the weights by the last step whatever the number of epochs.

>>> schedule = WarmupLinearDecay(1e-4, total_steps=100, warmup_steps=10)
>>> [round(float(schedule(step)), 6) for step in (0, 4, 10, 55, 100, 150)]
[1e-05, 5e-05, 0.0001, 5e-05, 0.0, 0.0]
"""

from __future__ import annotations

import math

import keras
from keras import ops


def steps_for(rows: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps of a fine-tune: one per batch, every epoch."""
    return max(1, math.ceil(rows / batch_size)) * epochs


@keras.saving.register_keras_serializable(package="retrain")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``peak`` reached linearly over ``warmup_steps``, then linearly down to 0 at ``total_steps``."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int) -> None:
        self.peak = float(peak)
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = max(0, min(int(warmup_steps), self.total_steps - 1))

    def __call__(self, step):
        # Step s (from 0) trains at the rate of s + 1 warm-up steps: the first step is small, never zero.
        step = ops.cast(step, "float32")
        warm = self.peak * (step + 1.0) / max(1, self.warmup_steps)
        decay = self.peak * (self.total_steps - step) / (self.total_steps - self.warmup_steps)
        return ops.clip(ops.where(step < self.warmup_steps, warm, decay), 0.0, self.peak)

    def get_config(self) -> dict:
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}
