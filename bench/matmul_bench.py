"""Which library multiplies MiniLM's matrices fastest on this CPU: TensorFlow through oneDNN (retrain's
default), TensorFlow through Eigen (``TF_ENABLE_ONEDNN_OPTS=0``), PyTorch (the peer script's).

GFLOP/s of a product and its bias (best of 7 passes of 5, all cores; TensorFlow's with the weight an argument of the
graph, as retrain trains and scores a pass of fewer than 4,096 rows, and ``frozen``, a constant of the
graph, as ``models/frozen_forward.py`` scores more) in float32, or in bfloat16 with ``--dtype
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
        bias = torch.rand(n).to(getattr(torch, {dtype!r}))
        return lambda: torch.addmm(bias, a, b)  # nn.Linear's product and bias
else:
    import tensorflow as tf
    def product(m, k, n):
        a = tf.cast(tf.constant(np.random.rand(m, k).astype(np.float32)), {dtype!r})
        b = tf.cast(tf.constant(np.random.rand(k, n).astype(np.float32)), {dtype!r})
        bias = tf.cast(tf.constant(np.random.rand(n).astype(np.float32)), {dtype!r})
        # The product and its bias: one fused oneDNN kernel, as retrain's dense layers run.
        if library == "tf-frozen":  # the weight a constant of the graph, as models/frozen_forward.py scores
            kernel = b.numpy()
            frozen = tf.function(lambda x, c: tf.nn.bias_add(tf.matmul(x, tf.constant(kernel)), c))
            return lambda: frozen(a, bias)
        f = tf.function(lambda x, y, c: tf.nn.bias_add(tf.matmul(x, y), c))
        return lambda: f(a, b, bias)  # on a CPU the call returns once the product is done: no copy out to time
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


def measure(python: str, library: str, env: dict[str, str], dtype: str, kernels: bool = False) -> list[str]:
    """GFLOP/s per shape, measured in a fresh process of ``python``; with ``kernels``, the oneDNN primitives
    and implementations the products ran instead (``ONEDNN_VERBOSE``, which slows them)."""
    code = MEASURE.format(shapes=SHAPES, threads=os.cpu_count(), dtype=dtype)
    out = subprocess.run([python, "-c", code, library], check=True, capture_output=True, text=True,
                         env={**os.environ, **env, **({"ONEDNN_VERBOSE": "1"} if kernels else {})}).stdout
    lines = out.splitlines()
    if kernels:  # onednn_verbose,v1,primitive,exec,cpu,<primitive>,<implementation>,...
        executed = [line for line in lines if line.startswith("onednn_verbose,v1,primitive,exec")]
        return sorted({" ".join(line.split(",")[5:7]) for line in executed})
    return [f"{float(line):.0f}" for line in lines if line and not line.startswith("onednn")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hf-python", help="Python of a venv with torch (the peer script's)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--kernels", action="store_true",
                        help="print the oneDNN kernels each library's products ran instead of GFLOP/s")
    args = parser.parse_args()
    ways = {"TensorFlow, oneDNN (retrain)": (sys.executable, "tf", {"TF_ENABLE_ONEDNN_OPTS": "1"}),
            "TensorFlow, oneDNN, frozen": (sys.executable, "tf-frozen", {"TF_ENABLE_ONEDNN_OPTS": "1"}),
            "TensorFlow, Eigen": (sys.executable, "tf", {"TF_ENABLE_ONEDNN_OPTS": "0"})}
    if args.hf_python:
        ways["PyTorch (the peer script)"] = (args.hf_python, "torch", {})
    if args.kernels:
        print(f"{args.dtype}: the oneDNN primitive and implementation of every product (all shapes)")
        for name, (python, library, env) in ways.items():
            print(f"{name:<30} {'; '.join(measure(python, library, env, args.dtype, kernels=True)) or 'none'}")
        return
    rows = {name: measure(python, library, env, args.dtype) for name, (python, library, env) in ways.items()}
    print(f"{args.dtype} matmul GFLOP/s, {os.cpu_count()} threads")
    print(f"{'library':<30}" + "".join(f"{f'{m}x{k}x{n}':>16}" for m, k, n in SHAPES))
    for name, gflops in rows.items():
        print(f"{name:<30}" + "".join(f"{g:>16}" for g in gflops), flush=True)


if __name__ == "__main__":
    main()
