"""Adam's update as one fused kernel per variable, on the Keras optimizer's own state.

Keras's Adam updates each variable with about ten element-wise kernels (each a pass over the
variable's memory: 22.7M floats for MiniLM, half of them the token embedding). TensorFlow's
``ResourceApplyAdam`` does the same update in one pass; the moments, the step counter and the
learning-rate schedule stay the Keras optimizer's, so checkpoints are unchanged. Together with the
written-out forward (``models.fused_forward``) a bfloat16 training step ran 1.16x the Keras
layers' and Keras Adam's on 2 cores. The update is Keras's to float rounding on dense gradients
(``tests/model/test_fused_forward.py``). On an embedding's sparse gradient, where a token repeated in
a batch arrives as several slices of the same row, Keras's Adam adds each slice's square to the
second moment apart (the sum of squares, not the square of the row's summed gradient), so its first
steps on repeated tokens overshoot the learning rate; here the row's gradient is summed first, the
textbook update (PyTorch's).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf


def fusable(optimizer: keras.optimizers.Optimizer) -> bool:
    """Whether ``apply_adam`` reproduces this optimizer's update (plain Adam, nothing on top)."""
    return (type(optimizer) is keras.optimizers.Adam and not optimizer.amsgrad
            and optimizer.weight_decay is None and optimizer.clipnorm is None
            and optimizer.global_clipnorm is None and optimizer.clipvalue is None and not optimizer.use_ema
            and optimizer.gradient_accumulation_steps is None and getattr(optimizer, "loss_scale_factor", None) is None)


def apply_adam(optimizer: keras.optimizers.Adam, gradients: Sequence, variables: Sequence) -> None:
    """One Adam step on ``variables`` (float32, built by ``optimizer``), as ``apply_gradients`` would take it."""
    learning_rate = tf.cast(optimizer.learning_rate, tf.float32)  # the schedule at the current step
    step = tf.cast(optimizer.iterations + 1, tf.float32)
    beta_1, beta_2 = tf.constant(optimizer.beta_1, tf.float32), tf.constant(optimizer.beta_2, tf.float32)
    beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
    epsilon = tf.cast(optimizer.epsilon, tf.float32)  # a float, or a tensor a caller put there
    for gradient, variable in zip(gradients, variables, strict=True):
        index = optimizer._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.value.handle, m=optimizer._momentums[index].value.handle,
            v=optimizer._velocities[index].value.handle, beta1_power=beta_1_power, beta2_power=beta_2_power,
            lr=learning_rate, beta1=beta_1, beta2=beta_2, epsilon=epsilon,
            # The token embedding's gradient arrives as rows (IndexedSlices); Adam decays every row's
            # moments anyway, so it is applied dense, as Keras applies it.
            grad=tf.convert_to_tensor(gradient))
    optimizer.iterations.assign_add(1)
