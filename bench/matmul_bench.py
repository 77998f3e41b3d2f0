"""Which library multiplies MiniLM's matrices fastest on this CPU: TensorFlow through oneDNN (retrain's
default), TensorFlow through Eigen (``TF_ENABLE_ONEDNN_OPTS=0``), PyTorch (the peer script's).

Float32 GFLOP/s (best of 7 passes of 5 products, all cores) for a square 2048 product and for the
shapes of scoring 64 tweets of 33 tokens at once (2,112 rows): the query-key-value projection, the
feed-forward pair and the attention output. Each library runs in its own process; PyTorch in the side
environment ``bench/hf_baseline.py`` uses::

    .venv/bin/python bench/matmul_bench.py --hf-python /tmp/hf-venv/bin/python
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
        a, b = torch.rand(m, k), torch.rand(k, n)
        return lambda: a @ b
else:
    import tensorflow as tf
    def product(m, k, n):
        a = tf.constant(np.random.rand(m, k).astype(np.float32))
        b = tf.constant(np.random.rand(k, n).astype(np.float32))
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


def measure(python: str, library: str, env: dict[str, str]) -> list[float]:
    """GFLOP/s per shape, measured in a fresh process of ``python``."""
    code = MEASURE.format(shapes=SHAPES, threads=os.cpu_count())
    out = subprocess.run([python, "-c", code, library], check=True, capture_output=True, text=True,
                         env={**os.environ, **env}).stdout
    return [float(line) for line in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hf-python", help="Python of a venv with torch (the peer script's)")
    args = parser.parse_args()
    rows = {"TensorFlow, oneDNN (retrain)": measure(sys.executable, "tf", {"TF_ENABLE_ONEDNN_OPTS": "1"}),
            "TensorFlow, Eigen": measure(sys.executable, "tf", {"TF_ENABLE_ONEDNN_OPTS": "0"})}
    if args.hf_python:
        rows["PyTorch (the peer script)"] = measure(args.hf_python, "torch", {})
    print(f"float32 matmul GFLOP/s, {os.cpu_count()} threads")
    print(f"{'library':<30}" + "".join(f"{f'{m}x{k}x{n}':>16}" for m, k, n in SHAPES))
    for name, gflops in rows.items():
        print(f"{name:<30}" + "".join(f"{g:>16.0f}" for g in gflops), flush=True)


if __name__ == "__main__":
    main()
