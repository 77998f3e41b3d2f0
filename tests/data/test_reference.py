"""What a batch is compared with, read from the store: the consumed rows sharing a normalised text with the
batch, and SQL aggregates of all of them, give the data checks exactly what every consumed row gave them,
while each week keys (and reads the texts of) only the rows consumed since the last check."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from data import reference
from data.consumed import consumed_rows
from data.ledger import HELD_OUT, TRAINED, Lineage, Watermark, record_consumption
from data.pull import LabeledBatch
from data.settings import Settings
from data.store import NewExample, connect, create_bookkeeping_schema, create_schema, insert_examples
from validation.batch_checks import ReferenceData, validate_batch
from validation.gate import expectations_for, reference_for

START = datetime(2026, 1, 5)
STORED = [  # (text, label): consumed by version 1, every fourth row held out
    ("Great film, loved it", "positive"), ("the plot was dull", "negative"), ("an ok evening", "neutral"),
    ("great FILM!!! loved it", "positive"),  # a near-duplicate of the first, stored twice
    ("Terrible acting http://t.co/x", "negative"), ("what a ride", "positive"), ("ＧＲＥＡＴ score", "positive"),
    ("meh", "neutral"), ("a long, long, long review " * 20, "negative"), ("so so", "neutral"),
    ("loved the cast", "positive"), ("awful", "negative"),
]


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RETRAIN_DATABASE_URL", database_url)
    monkeypatch.setenv("RETRAIN_LABELS", '["negative", "neutral", "positive"]')
    settings = Settings()
    create_schema(connect(settings), settings)
    return settings


def _stored(settings: Settings, version: int, rows: list[tuple[str, str]], start: int = 0) -> list[int]:
    engine = connect(settings)
    ids = insert_examples(engine, settings, [NewExample(text, label, labeled_at=START + timedelta(hours=start + i))
                                             for i, (text, label) in enumerate(rows)])
    with engine.begin() as conn:
        record_consumption(conn, settings.table, version, {TRAINED: [i for n, i in enumerate(ids) if n % 4 != 3],
                                                           HELD_OUT: ids[3::4]})
    return ids


def _batch(lineage: Lineage, texts: list[tuple[str | None, str]]) -> LabeledBatch:
    frame = pd.DataFrame({"id": range(10_001, 10_001 + len(texts)), "text": [t for t, _ in texts],
                          "label": [label for _, label in texts],
                          "labeled_at": [START + timedelta(days=30, minutes=i) for i in range(len(texts))],
                          "split": "train", "prior_role": None})
    return LabeledBatch(frame=frame, source_table="labeled_examples", lineage=lineage)


BATCH = [
    ("great film loved it", "positive"),  # a trained row's text, and a held-out one's
    ("The plot was DULL.", "positive"),  # contradicts a stored label
    ("great film, loved it", "negative"),  # contradicts it too
    ("so so", "neutral"),  # a trained row's text
    ("Meh.", "neutral"),  # a held-out row's text: leakage
    ("great score", "positive"),  # NFKC: the full-width stored text
    ("something new entirely", "negative"), ("another new one", "neutral"), (None, "neutral"),
]


def test_the_stored_reference_gives_the_checks_what_every_consumed_row_gave(settings):
    engine = connect(settings)
    ids = _stored(settings, 1, STORED)
    lineage = Lineage((1,), Watermark(START + timedelta(hours=len(ids)), max(ids)))
    batch = _batch(lineage, BATCH)
    every_row = ReferenceData(consumed_rows(engine, settings, lineage)[["id", "text", "label", "split"]])

    stored = reference_for(engine, settings, batch)

    # Only the rows a batch text matches are read back; the aggregates are of all of them.
    assert set(stored.rows["id"]) == {ids[i] for i in (0, 1, 3, 6, 7, 9)} and len(every_row.rows) == len(STORED)
    assert stored.label_counts == every_row.label_counts == {"positive": 5, "negative": 4, "neutral": 3}
    assert stored.median_length == every_row.median_length
    expectations = expectations_for(settings)
    report = validate_batch(batch.frame, expectations, stored)
    assert report == validate_batch(batch.frame, expectations, every_row)  # every check, count, id and reason
    found = {check.name: check for check in report.checks}  # and the comparison has teeth:
    assert found["duplicate_of_stored"].example_ids == (10_001, 10_004, 10_006)
    assert found["test_set_leakage"].example_ids == (10_001, 10_003, 10_005)
    assert found["conflicting_labels"].example_ids == (10_001, 10_002, 10_003)


def test_each_week_keys_only_the_rows_consumed_since_and_a_dry_run_writes_none(settings, monkeypatch):
    engine = connect(settings)
    first = _stored(settings, 1, STORED)
    lineage = Lineage((1,), Watermark(START, max(first)))
    assert len(reference.unkeyed_rows(engine, settings, lineage)) == len(STORED)
    dry = reference_for(engine, settings, _batch(lineage, BATCH), write=False)  # a dry run: keyed in memory only
    assert not reference.has_keys(engine) and len(reference.unkeyed_rows(engine, settings, lineage)) == len(STORED)
    assert dry.rows.equals(reference_for(engine, settings, _batch(lineage, BATCH), write=False).rows) and len(dry.rows)
    reference_for(engine, settings, _batch(lineage, BATCH))
    assert reference.unkeyed_rows(engine, settings, lineage).empty

    second = _stored(settings, 2, [("week two: a fresh take", "neutral"), ("week two, loved the cast", "positive")],
                     start=100)
    grown = Lineage((2, 1), Watermark(START, max(second)))
    assert sorted(reference.unkeyed_rows(engine, settings, grown)["row_id"]) == second
    batch = _batch(grown, [("Week two: a FRESH take!", "neutral")])
    assert reference_for(engine, settings, batch).rows["id"].tolist() == [second[0]]  # found as soon as consumed
    # Keyed now, but not consumed by version 1's lineage (a rejected challenger's, say): not its reference.
    assert reference_for(engine, settings, _batch(lineage, [("Week two: a FRESH take!", "neutral")])).rows.empty
    assert reference.unkeyed_rows(engine, settings, grown).empty

    monkeypatch.setattr(reference, "SCHEME", reference.SCHEME + 1)  # normalize_text changed: every key redone
    assert len(reference.unkeyed_rows(engine, settings, grown)) == len(STORED) + 2


def test_a_stored_row_without_text_is_keyed_once_and_matches_nothing(database_url, monkeypatch):
    """A team's table may allow NULL texts (the row checks quarantine such rows, but one may be consumed
    before a team turns them on): counted by label, left out of the length median, keyed once."""
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE tickets (id INTEGER PRIMARY KEY, text TEXT, label VARCHAR(20), "
                             "labeled_at TIMESTAMP NOT NULL)"))
        for i, (text, label) in enumerate(STORED[:3], start=1):
            conn.execute(sa.text("INSERT INTO tickets VALUES (:i, :text, :label, :at)"),
                         {"i": i, "text": None if i == 2 else text, "label": label, "at": START})
    engine.dispose()
    for name, value in {"RETRAIN_DATABASE_URL": database_url, "RETRAIN_TABLE": "tickets",
                        "RETRAIN_SOURCE_COLUMN": "", "RETRAIN_CONFIDENCE_COLUMN": "",
                        "RETRAIN_LABELS": '["negative", "neutral", "positive"]'}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    engine = connect(settings)
    create_bookkeeping_schema(engine)
    with engine.begin() as conn:
        record_consumption(conn, "tickets", 1, {TRAINED: [1, 2, 3]})
    lineage = Lineage((1,), Watermark(START, 3))
    stored = reference_for(engine, settings, _batch(lineage, BATCH))
    assert set(stored.rows["id"]) == {1} and reference.unkeyed_rows(engine, settings, lineage).empty
    assert stored.label_counts == {"positive": 1, "negative": 1, "neutral": 1}  # counted, text or not
    assert stored.median_length == (len(STORED[0][0]) + len(STORED[2][0])) / 2


def test_keys_go_to_the_database_and_back_as_the_same_64_bit_integers(settings):
    engine = connect(settings)
    ids = _stored(settings, 1, [(f"text number {i}", "neutral") for i in range(300)] + [("", "neutral")])
    lineage = Lineage((1,), Watermark(START, max(ids)))
    reference.record_keys(engine, settings, reference.unkeyed_rows(engine, settings, lineage))
    keys = reference.keys_table.c
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(keys.row_id, keys.key)).all())
    expected = {i: reference.key_of(text) for i, text in zip(ids, [f"text number {n}" for n in range(300)] + [""],
                                                              strict=True)}
    assert stored == expected and max(map(abs, stored.values())) > 2**62  # no key rounded through a float


@given(st.lists(st.integers(min_value=0, max_value=400), max_size=60))
def test_the_median_from_counts_is_the_median_of_the_values(lengths):
    counts = {n: lengths.count(n) for n in set(lengths)}
    expected = float(pd.Series(lengths, dtype="float64").median()) if lengths else None
    assert reference.median_of_counts(counts) == expected
