"""The data layer: incremental pulls past a (labeled_at, id) watermark, the fixed split, the held-out
snapshot, SQL safety, a team's own table, and the watermark index on PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from retrain.settings import Settings
from retrain.store import (
    TEST,
    TRAIN,
    NewExample,
    Watermark,
    connect,
    count_rows_after,
    create_schema,
    examples_table,
    existing_texts,
    held_out_set,
    insert_examples,
    pull_new_rows,
    pull_query,
    split_of,
)
from tests.helpers import sentiment_rows

# Microseconds on purpose: a watermark that lost them would pull the same rows twice.
T0 = datetime(2024, 3, 1, 9, 30, 0, 123456)


def make_settings(database_url: str, **fields: object) -> Settings:
    settings = Settings(database_url=database_url, **fields)
    create_schema(connect(settings), settings)
    return settings


def add(settings: Settings, rows: list[tuple[str, str]], at: datetime | None = None, **fields: object) -> list[int]:
    examples = [NewExample(text, label, labeled_at=at, **fields) for text, label in rows]
    return insert_examples(connect(settings), settings, examples)


def pull_ids(settings: Settings, after: Watermark | None, limit: int | None = None) -> list[int]:
    return pull_new_rows(connect(settings), settings, after, limit).frame["id"].tolist()


# --- the watermark -------------------------------------------------------------------------------


def test_rows_sharing_one_timestamp_are_never_skipped_or_pulled_twice(database_url: str) -> None:
    settings = make_settings(database_url)
    engine = connect(settings)
    ids = add(settings, sentiment_rows(5, seed=1), at=T0 - timedelta(seconds=1))
    ids += add(settings, sentiment_rows(12, seed=2), at=T0)  # one timestamp for all twelve
    ids += add(settings, sentiment_rows(3, seed=3), at=T0 + timedelta(seconds=1))

    first = pull_new_rows(engine, settings, None, limit=9)  # stops in the middle of the shared timestamp
    assert first.end == Watermark(T0, int(first.frame["id"].iloc[-1]))
    rest = pull_new_rows(engine, settings, first.end)

    pulled = first.frame["id"].tolist() + rest.frame["id"].tolist()
    assert sorted(pulled) == sorted(ids)
    assert len(pulled) == len(set(pulled))
    assert count_rows_after(engine, settings, first.end) == len(rest.frame) == len(ids) - 9
    assert pull_new_rows(engine, settings, rest.end).frame.empty
    assert count_rows_after(engine, settings, rest.end) == 0


def test_successive_small_pulls_walk_the_whole_stream_once(database_url: str) -> None:
    settings = make_settings(database_url)
    ids = add(settings, sentiment_rows(10, seed=1), at=T0) + add(settings, sentiment_rows(7, seed=2), at=T0)
    seen: list[int] = []
    after = None
    for _ in range(20):
        batch = pull_new_rows(connect(settings), settings, after, limit=3)
        if batch.end is None:
            break
        seen += batch.frame["id"].tolist()
        after = batch.end
    assert seen == sorted(ids)


def test_rows_are_ordered_by_labeled_at_then_id_not_by_insertion(database_url: str) -> None:
    settings = make_settings(database_url)
    engine = connect(settings)
    [late] = add(settings, [("labeled last, inserted first", "positive")], at=T0 + timedelta(minutes=10))
    [early] = add(settings, [("labeled first, inserted second", "negative")], at=T0)

    first = pull_new_rows(engine, settings, None)
    assert first.frame["id"].tolist() == [early, late]
    assert first.end == Watermark(T0 + timedelta(minutes=10), late)

    # A later row with the watermark's timestamp and a larger id lies past it; a back-dated one does not.
    [same_time] = add(settings, [("same time as the watermark", "positive")], at=T0 + timedelta(minutes=10))
    [back_dated] = add(settings, [("back-dated before the watermark", "negative")], at=T0 + timedelta(minutes=5))
    [newer] = add(settings, [("newer than the watermark", "positive")], at=T0 + timedelta(minutes=20))
    assert same_time > late and back_dated > late

    assert pull_ids(settings, first.end) == [same_time, newer]
    assert count_rows_after(engine, settings, first.end) == 2
    assert pull_ids(settings, None) == [early, back_dated, late, same_time, newer]


# --- the split and the held-out set -----------------------------------------------------------------


def test_split_of_is_deterministic_and_holds_out_about_the_test_fraction() -> None:
    ids = range(1, 2001)
    splits = [split_of(i, 0.2) for i in ids]
    assert splits == [split_of(i, 0.2) for i in ids]
    share = splits.count(TEST) / len(splits)
    assert 0.17 <= share <= 0.23, share
    # Pinned: a change to the hash would move rows between train and test and leak the held-out set.
    assert [i for i, split in zip(ids, splits, strict=True) if split == TEST][:8] == [8, 9, 39, 46, 47, 49, 50, 51]
    # A larger fraction only adds test rows: none moves from test to train.
    assert all(split_of(i, 0.3) == TEST for i, split in zip(ids, splits, strict=True) if split == TEST)
    half = [split_of(i, 0.5) for i in ids].count(TEST) / len(splits)
    assert 0.47 <= half <= 0.53, half


def test_an_explicit_split_column_overrides_the_hash(database_url: str) -> None:
    settings = make_settings(database_url, split_column="split")
    ids = add(settings, sentiment_rows(40))
    table = examples_table(settings)
    flipped = {i: TRAIN if split_of(i, settings.test_fraction) == TEST else TEST for i in ids[:30]}
    with connect(settings).begin() as conn:
        for row_id, split in flipped.items():
            conn.execute(table.update().where(table.c.id == row_id).values(split=split))
    assert set(flipped.values()) == {TRAIN, TEST}

    frame = pull_new_rows(connect(settings), settings, None).frame
    splits = dict(zip(frame["id"], frame["split"], strict=True))
    assert all(splits[i] == flipped[i] for i in ids[:30])
    assert all(splits[i] == split_of(i, settings.test_fraction) for i in ids[30:])

    held = held_out_set(connect(settings), settings, Watermark(T0 + timedelta(days=10000), max(ids)))
    expected = {i for i in ids if (flipped.get(i) or split_of(i, settings.test_fraction)) == TEST}
    assert set(held.frame["id"]) == expected


def set_label(settings: Settings, row_id: int, label: str) -> None:
    table = examples_table(settings)
    with connect(settings).begin() as conn:
        conn.execute(table.update().where(table.c.id == row_id).values(label=label))


def test_the_held_out_set_is_the_test_rows_up_to_the_watermark_and_never_trained_on(database_url: str) -> None:
    settings = make_settings(database_url)
    engine = connect(settings)
    rows = sentiment_rows(300)
    ids = insert_examples(engine, settings, [
        NewExample(text, label, labeled_at=T0 + timedelta(seconds=i)) for i, (text, label) in enumerate(rows[:200])
    ])

    week_one = pull_new_rows(engine, settings, None, limit=120)
    held_one = held_out_set(engine, settings, week_one.end)
    test_ids = {i for i in ids[:120] if split_of(i, settings.test_fraction) == TEST}
    assert test_ids and set(held_one.frame["id"]) == test_ids
    assert set(held_one.frame["split"]) == {TEST}
    assert held_one.size == len(test_ids)
    assert not set(held_one.frame["id"]) & set(week_one.training_rows["id"])
    assert set(week_one.training_rows["id"]) | test_ids == set(ids[:120])

    # More rows arrive; earlier test rows stay held out, and no training batch ever contains one.
    add(settings, rows[200:], at=T0 + timedelta(hours=1))
    week_two = pull_new_rows(engine, settings, week_one.end)
    held_two = held_out_set(engine, settings, week_two.end)
    assert set(held_one.frame["id"]) < set(held_two.frame["id"])
    for batch in (week_one, week_two):
        assert not set(batch.training_rows["id"]) & set(held_two.frame["id"])
        assert set(batch.frame[batch.frame["split"] == TEST]["id"]) <= set(held_two.frame["id"])


def test_the_held_out_hash_is_stable_and_changes_only_with_its_own_rows(database_url: str) -> None:
    settings = make_settings(database_url)
    engine = connect(settings)
    ids = add(settings, sentiment_rows(80), at=T0)
    up_to = Watermark(T0, ids[59])
    snapshot = held_out_set(engine, settings, up_to)
    assert len(snapshot.content_hash) == 64
    assert held_out_set(engine, settings, up_to).content_hash == snapshot.content_hash

    add(settings, sentiment_rows(10, seed=5), at=T0 + timedelta(days=1))  # past the watermark
    train_id = next(i for i in ids[:60] if split_of(i, settings.test_fraction) == TRAIN)
    set_label(settings, train_id, "negative" if train_id % 2 else "positive")
    later_test_id = next(i for i in ids[60:] if split_of(i, settings.test_fraction) == TEST)
    set_label(settings, later_test_id, "negative")
    assert held_out_set(engine, settings, up_to).content_hash == snapshot.content_hash

    test_id = int(snapshot.frame["id"].iloc[0])
    old = snapshot.frame.set_index("id").loc[test_id, "label"]
    set_label(settings, test_id, "negative" if old == "positive" else "positive")
    changed = held_out_set(engine, settings, up_to)
    assert changed.content_hash != snapshot.content_hash
    assert changed.frame["id"].tolist() == snapshot.frame["id"].tolist()

    set_label(settings, test_id, old)
    assert held_out_set(engine, settings, up_to).content_hash == snapshot.content_hash


# --- SQL safety -------------------------------------------------------------------------------------

NASTY_TEXTS = [
    "'; DROP TABLE labeled_examples; --",
    "Robert'); DROP TABLE labeled_examples;--",
    "' OR '1'='1",
    'she said "hi" and \'bye\'',
    "back\\slash \\n not a newline \\\\ and \\'",
    "100% %s %(text)s %% {} :text ? $1",
    "naïve café — 日本語 😀 \u200b zero-width",
    "tab\tand\nnewline\r\nand more",
    "  leading and trailing spaces  ",
]


def test_texts_with_sql_meta_characters_round_trip_and_the_table_survives(database_url: str) -> None:
    settings = make_settings(database_url)
    engine = connect(settings)
    before = add(settings, [("an ordinary row", "positive")])
    ids = add(settings, [(text, "negative") for text in NASTY_TEXTS])

    frame = pull_new_rows(engine, settings, None).frame.set_index("id")
    assert [frame.loc[i, "text"] for i in ids] == NASTY_TEXTS
    assert existing_texts(engine, settings, NASTY_TEXTS + ["not stored"]) == dict(zip(NASTY_TEXTS, ids, strict=True))

    assert sa.inspect(engine).has_table("labeled_examples")
    assert count_rows_after(engine, settings, None) == len(before) + len(NASTY_TEXTS)
    assert pull_ids(settings, None) == before + ids


# --- a team's own table -------------------------------------------------------------------------------


def create_team_table(database_url: str, rows: dict[int, tuple[str, str, datetime]]) -> None:
    metadata = sa.MetaData()
    reviews = sa.Table(
        "team_reviews", metadata,
        sa.Column("review_id", sa.Integer, primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("sentiment", sa.String(20), nullable=False),
        sa.Column("reviewed_at", sa.DateTime, nullable=False),
        sa.Column("reviewer", sa.String(50)),
    )
    engine = sa.create_engine(database_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(reviews.insert(), [
                {"review_id": i, "body": body, "sentiment": label, "reviewed_at": at, "reviewer": "ana"}
                for i, (body, label, at) in rows.items()
            ])
    finally:
        engine.dispose()


def team_settings(database_url: str, **fields: object) -> Settings:
    mapping: dict[str, object] = {
        "table": "team_reviews", "id_column": "review_id", "text_column": "body", "label_column": "sentiment",
        "labeled_at_column": "reviewed_at", "source_column": None, "confidence_column": None,
    }
    return Settings(database_url=database_url, **{**mapping, **fields})


def test_a_teams_existing_table_is_pulled_through_the_column_mapping(database_url: str) -> None:
    rows = {
        1001: ("loved it", "positive", T0),
        1005: ("hated it", "negative", T0),
        1002: ("fine, really fine", "positive", T0 + timedelta(hours=1)),
        1010: ("never again", "negative", T0 + timedelta(hours=2)),
    }
    create_team_table(database_url, rows)
    settings = team_settings(database_url)
    engine = connect(settings)

    first = pull_new_rows(engine, settings, None, limit=3)
    assert list(first.frame.columns) == ["id", "text", "label", "labeled_at", "split"]
    assert first.frame["id"].tolist() == [1001, 1005, 1002]
    assert first.frame["text"].tolist() == ["loved it", "hated it", "fine, really fine"]
    assert first.frame["label"].tolist() == ["positive", "negative", "positive"]
    assert first.frame["split"].tolist() == [split_of(i, settings.test_fraction) for i in (1001, 1005, 1002)]
    assert first.end == Watermark(T0 + timedelta(hours=1), 1002)

    assert pull_ids(settings, first.end) == [1010]
    assert count_rows_after(engine, settings, first.end) == 1
    assert existing_texts(engine, settings, ["never again", "unknown"]) == {"never again": 1010}
    held = held_out_set(engine, settings, Watermark(T0 + timedelta(hours=2), 1010))
    assert set(held.frame["id"]) == {i for i in rows if split_of(i, settings.test_fraction) == TEST}


def test_a_missing_table_is_named(database_url: str) -> None:
    settings = Settings(database_url=database_url, table="no_such_table")
    engine = connect(settings)
    with pytest.raises(LookupError, match="no_such_table"):
        pull_new_rows(engine, settings, None)
    with pytest.raises(LookupError, match="no_such_table"):
        count_rows_after(engine, settings, None)


def test_a_missing_column_is_named_with_its_table(database_url: str) -> None:
    create_team_table(database_url, {1: ("good", "positive", T0)})
    settings = team_settings(database_url, label_column="stars")
    engine = connect(settings)
    with pytest.raises(LookupError, match="stars") as raised:
        pull_new_rows(engine, settings, None)
    assert "team_reviews" in str(raised.value)
    with pytest.raises(LookupError, match="stars"):
        held_out_set(engine, settings, Watermark(T0, 1))


# --- the watermark index ------------------------------------------------------------------------------


def test_the_incremental_pull_seeks_on_the_watermark_index_in_postgresql(postgres_url: str) -> None:
    settings = make_settings(postgres_url)
    engine = connect(settings)
    table = examples_table(settings)
    count = 20_000
    with engine.begin() as conn:
        conn.execute(table.insert(), [
            {"text": f"row number {i}", "label": "positive" if i % 2 else "negative",
             "labeled_at": T0 + timedelta(seconds=i), "source": "bulk"}
            for i in range(count)
        ])
        conn.exec_driver_sql("ANALYZE labeled_examples")
    with engine.connect() as conn:
        recent = conn.execute(sa.select(table.c.labeled_at, table.c.id).order_by(table.c.id).offset(count - 50)).first()
    after = Watermark(*recent)

    compiled = pull_query(table, settings, after).compile(dialect=engine.dialect)
    with engine.connect() as conn:
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars())
        pulled = conn.execute(pull_query(table, settings, after)).all()
    # A seek: the index's condition is the watermark, not a full index walk that filters every row.
    assert re.search(r"Index (Only )?Scan using ix_labeled_examples_watermark on labeled_examples", plan), plan
    assert re.search(r"Index Cond: \(ROW\(labeled_at, id\) > ROW\(", plan), plan
    assert "Seq Scan" not in plan and "Filter:" not in plan, plan
    assert len(pulled) == 49


def test_a_sqlite_team_table_with_second_resolution_text_times_never_skips_rows_tied_with_the_watermark(
    tmp_path,
) -> None:
    # Written by another program: times as text without microseconds, as sqlite3's CURRENT_TIMESTAMP does.
    url = f"sqlite:///{tmp_path / 'team.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE team_reviews (review_id INTEGER PRIMARY KEY, body TEXT NOT NULL, "
                             "sentiment TEXT NOT NULL, reviewed_at TIMESTAMP NOT NULL)")
        for row_id, stamp in [(1, "2026-01-05 09:00:00"), (2, "2026-01-05 09:00:00"), (3, "2026-01-05 09:00:00"),
                              (4, "2026-01-05 09:00:01")]:
            conn.exec_driver_sql("INSERT INTO team_reviews VALUES (?, ?, 'positive', ?)", (row_id, f"text {row_id}",
                                                                                           stamp))
    engine.dispose()
    settings = team_settings(url)
    engine = connect(settings)

    first = pull_new_rows(engine, settings, None, limit=2)
    assert first.frame["id"].tolist() == [1, 2]
    assert pull_ids(settings, first.end) == [3, 4]  # row 3 shares the watermark's second
    assert count_rows_after(engine, settings, first.end) == 2
    assert set(held_out_set(engine, settings, first.end).frame["id"]) <= {1, 2}
