"""The numeric precision a model computes in, chosen for the machine it runs on.

``auto`` picks ``mixed_bfloat16`` (bfloat16 matmuls, float32 weights and loss) where the hardware
multiplies bfloat16 natively, a GPU of compute capability 8.0 or newer or an x86 CPU with
AVX512_BF16 or AMX, and ``float32`` everywhere else. On a 2-core AVX512_BF16 CPU it roughly
doubled fine-tuning and scoring throughput at the same held-out accuracy (``bench/finetune_bench.py``).
float16 is never chosen: it needs loss scaling, and every GPU that is fast at it is fast at bfloat16.

>>> resolve_precision("float32")
'float32'
>>> resolve_precision("auto", flags=frozenset({"avx2"}), gpus=())
'float32'
>>> resolve_precision("auto", flags=frozenset({"avx512_bf16"}), gpus=())
'mixed_bfloat16'
>>> resolve_precision("auto", flags=frozenset(), gpus=((7, 5),))
'float32'
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Literal

Precision = Literal["auto", "float32", "mixed_bfloat16"]
_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@cache
def gpu_compute_capabilities() -> tuple[tuple[int, int], ...]:
    """Compute capability of each GPU TensorFlow sees (none on a CPU-only machine)."""
    import tensorflow as tf

    capabilities = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        capabilities.append(tuple(details.get("compute_capability", (0, 0))))
    return tuple(capabilities)


def resolve_precision(
    setting: Precision,
    flags: frozenset[str] | None = None,
    gpus: Sequence[tuple[int, int]] | None = None,
) -> str:
    """The Keras dtype policy name for a precision setting on this machine, or on one with these CPU
    ``flags`` and GPU compute capabilities ``gpus``."""
    if setting != "auto":
        return setting
    gpus = gpu_compute_capabilities() if gpus is None else gpus
    if gpus:
        return "mixed_bfloat16" if all(capability >= (8, 0) for capability in gpus) else "float32"
    flags = cpu_flags() if flags is None else flags
    return "mixed_bfloat16" if flags & _BF16_CPU_FLAGS else "float32"


def compute_dtype(policy: str) -> str:
    """The dtype a Keras policy name computes in, without importing Keras (Keras's naming: a mixed
    policy keeps float32 weights and computes in the dtype after ``mixed_``).

    >>> compute_dtype("mixed_bfloat16"), compute_dtype("float32")
    ('bfloat16', 'float32')
    """
    return policy.removeprefix("mixed_")
