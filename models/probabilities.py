"""From logits to class probabilities, batch by batch.

No TensorFlow here: the same functions serve the NumPy forward of ``retrain predict`` and the traced
TensorFlow graphs of a run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from models.encoding import Encoded, batches

# Batches scored at once. While one batch's small kernels (softmax, layer norms, transposes) and the
# Python between batches leave a core idle, the other's matmuls fill it: 2,000 held-out tweets scored
# faster with two in flight on 2 cores, to the same probabilities (bench/in_flight_bench.py).
BATCHES_IN_FLIGHT = 2


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log class probabilities from logits, row by row, without overflow.

    >>> np.exp(log_softmax(np.array([[0.0, 0.0], [1000.0, 0.0]]))).round(3).tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def probabilities(logits_of: Callable[[dict], object], encoded: Encoded, batch_size: int,
                  classes: int, in_flight: int = BATCHES_IN_FLIGHT) -> np.ndarray:
    """Class probabilities of every encoded row, in row order, from a function of a batch to its logits
    (called by up to ``in_flight`` threads at once; TensorFlow's graphs and NumPy allow it).

    >>> encoded = Encoded([np.array(ids) for ids in ([2, 5, 3], [2, 3], [2, 5, 5, 3])], sequence_length=4)
    >>> def lengths(inputs):  # a toy model: the longer the row, the likelier class 1
    ...     return np.stack([np.zeros(len(inputs["token_ids"])), inputs["padding_mask"].sum(axis=1)], axis=1)
    >>> probabilities(lengths, encoded, batch_size=1, classes=2).astype(float).round(3).tolist()
    [[0.047, 0.953], [0.119, 0.881], [0.018, 0.982]]
    """
    scored = np.zeros((len(encoded), classes), dtype=np.float32)

    def score(inputs: dict, index: np.ndarray) -> None:
        scored[index] = np.exp(log_softmax(np.asarray(logits_of(inputs))))

    # Rows are scored sorted by length, so a batch's rows are nearly equally long: padding them to
    # the longest exactly, not to a multiple of 8, scored 1.1x faster on 2 cores (the graph takes any
    # shape, so the extra shapes cost no retrace).
    padded = batches(encoded, batch_size, pad_multiple=1)
    if in_flight <= 1 or len(encoded) <= batch_size:
        for inputs, index in padded:
            score(inputs, index)
        return scored
    with ThreadPoolExecutor(in_flight, thread_name_prefix="scoring") as pool:
        pending: deque[Future] = deque()
        for inputs, index in padded:  # at most in_flight batches padded ahead: memory stays flat
            if len(pending) == in_flight:
                pending.popleft().result()
            pending.append(pool.submit(score, inputs, index))
        for future in pending:
            future.result()
    return scored
