"""Which library multiplies MiniLM's matrices fastest on this CPU: TensorFlow through oneDNN (retrain's
default), TensorFlow through Eigen (``TF_ENABLE_ONEDNN_OPTS=0``), PyTorch (the peer script's).

GFLOP/s (best of 7 passes of 5 products, all cores) in float32, or in bfloat16 with ``--dtype
bfloat16`` (what both paths score in where the CPU has AVX512_BF16 or AMX), for a square 2048 product
and for the shapes of scoring 64 tweets of 33 tokens at once (2,112 rows): the query-key-value
projection, the feed-forward pair and the attention output. Each library runs in its own process;
PyTorch in the side environment ``bench/hf_baseline.py`` uses::

    .venv/bin/python bench/matmul_bench.py --hf-python /tmp/hf-venv/bin/python [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

SHAPES = [(2048, 2048, 2048), (2112, 384, 1152), (2112, 384, 1536), (2112, 1536, 384), (2112, 384, 384)]

MEASURE = """
import sys, time
import numpy as np
shapes = {shapes!r}
library = sys.argv[1]
if library == "torch":
    import torch
    torch.set_num_threads({threads})
    def product(m, k, n):
        a, b = torch.rand(m, k).to(getattr(torch, {dtype!r})), torch.rand(k, n).to(getattr(torch, {dtype!r}))
        return lambda: a @ b
else:
    import tensorflow as tf
    def product(m, k, n):
        a = tf.cast(tf.constant(np.random.rand(m, k).astype(np.float32)), {dtype!r})
        b = tf.cast(tf.constant(np.random.rand(k, n).astype(np.float32)), {dtype!r})
        f = tf.function(lambda x, y: tf.matmul(x, y))
        return lambda: f(a, b).numpy()
for m, k, n in shapes:
    run = product(m, k, n)
    run()
    best = 1e9
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(5):
            run()
        best = min(best, (time.perf_counter() - started) / 5)
    print(2 * m * k * n / best / 1e9)
"""


def measure(python: str, library: str, env: dict[str, str], dtype: str) -> list[float]:
    """GFLOP/s per shape, measured in a fresh process of ``python``."""
    code = MEASURE.format(shapes=SHAPES, threads=os.cpu_count(), dtype=dtype)
    out = subprocess.run([python, "-c", code, library], check=True, capture_output=True, text=True,
                         env={**os.environ, **env}).stdout
    return [float(line) for line in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hf-python", help="Python of a venv with torch (the peer script's)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()
    rows = {"TensorFlow, oneDNN (retrain)": measure(sys.executable, "tf", {"TF_ENABLE_ONEDNN_OPTS": "1"}, args.dtype),
            "TensorFlow, Eigen": measure(sys.executable, "tf", {"TF_ENABLE_ONEDNN_OPTS": "0"}, args.dtype)}
    if args.hf_python:
        rows["PyTorch (the peer script)"] = measure(args.hf_python, "torch", {}, args.dtype)
    print(f"{args.dtype} matmul GFLOP/s, {os.cpu_count()} threads")
    print(f"{'library':<30}" + "".join(f"{f'{m}x{k}x{n}':>16}" for m, k, n in SHAPES))
    for name, gflops in rows.items():
        print(f"{name:<30}" + "".join(f"{g:>16.0f}" for g in gflops), flush=True)


if __name__ == "__main__":
    main()
