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
    from data.store import NewExample, connect, insert_examples

    return insert_examples(connect(settings), settings, [NewExample(text, label) for text, label in rows])


def register_consumed(settings, up_to=None, ids=None, parent: int | None = -1, promote: bool = True,
                      early_stopping=()):
    """Record a model version (no training) that consumed the rows waiting for the champion's lineage:
    all of them, those up to the ``up_to`` watermark, or those with ``ids``. ``parent`` defaults to
    the current champion. With ``promote`` it becomes the champion."""
    from dataclasses import replace

    import pandas as pd

    from data.pull import pull_new_rows
    from data.store import connect, create_bookkeeping_schema
    from models import registry

    engine = connect(settings)
    create_bookkeeping_schema(engine)
    registry.create_registry_schema(engine)
    champion = registry.champion_version(engine)
    batch = pull_new_rows(engine, settings, registry.lineage_of(engine) if champion else None)
    frame = batch.frame
    if up_to is not None:
        frame = frame[[(pd.Timestamp(at).to_pydatetime(), int(i)) <= (up_to.labeled_at, up_to.id)
                       for at, i in zip(frame["labeled_at"], frame["id"], strict=True)]]
    if ids is not None:
        frame = frame[frame["id"].isin(list(ids))]
    batch = replace(batch, frame=frame.reset_index(drop=True))
    frontier = max(m for m in (batch.frontier, up_to) if m is not None) if (batch.frontier or up_to) else None
    if frontier is None:
        raise ValueError("nothing to consume and no watermark given")
    version = registry.register_version(engine, registry.NewVersion(
        base_model="none (a test stand-in)", artifact_uri="file:///nonexistent", artifact_sha256="0" * 64,
        labels=tuple(settings.labels), sequence_length=32, window_after=batch.after, window_end=frontier,
        new_rows=len(batch.frame), train_rows=len(batch.training_rows), test_rows=0, test_set_hash="",
        accuracy=0.5, metrics={}, decision=registry.PENDING if promote else registry.REJECTED, reason="test",
        triggered_by="test", parent_version=champion if parent == -1 else parent,
    ), batch.consumption(settings.test_fraction, early_stopping))
    if promote:
        registry.switch_champion(engine, version.version, champion, "test", "test")
    return registry.get_version(engine, version.version)
