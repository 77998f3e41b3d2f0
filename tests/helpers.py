"""Small generated data for unit tests."""

from __future__ import annotations

import random

POSITIVE = ["great", "love", "wonderful", "excellent", "happy", "amazing"]
NEGATIVE = ["awful", "hate", "terrible", "horrible", "sad", "disgusting"]
FILLER = ["the", "film", "service", "today", "phone", "car", "food", "was", "really", "this"]


def sentiment_rows(count: int, seed: int = 0, prefix: str = "") -> list[tuple[str, str]]:
    """(text, label) pairs a tiny model can learn: the label follows one sentiment word. Texts are unique."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = "positive" if i % 2 == 0 else "negative"
        word = rng.choice(POSITIVE if label == "positive" else NEGATIVE)
        filler = rng.sample(FILLER, 4)
        rows.append((f"{prefix}{' '.join(filler[:2])} {word} {' '.join(filler[2:])} #{seed}-{i}", label))
    return rows
