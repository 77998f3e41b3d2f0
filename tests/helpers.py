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


def add_rows(settings, rows: list[tuple[str, str]]) -> list[int]:
    """Insert (text, label) rows into the settings' table; returns their ids."""
    from retrain.store import NewExample, connect, insert_examples

    return insert_examples(connect(settings), settings, [NewExample(text, label) for text, label in rows])
