"""The data layer: what waits for the champion's lineage (the consumption ledger), the fixed split,
the held-out snapshot, SQL safety, a team's own table, and the watermark index on PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from data.held_out import held_out_set
from data.ledger import Lineage, Watermark
from data.meta import FixedFactMismatch
from data.pull import pull_new_rows, pull_query, waiting_counts
from data.settings import Settings
from data.split import TEST, TRAIN, BadSplitValue, fixed_test_fraction, split_of
from data.store import (
    NewExample,
    connect,
    count_rows,
    create_bookkeeping_schema,
    create_schema,
    examples_table,
    existing_texts,
    insert_examples,
)
from models import registry
from tests.helpers import register_consumed, sentiment_rows

# Microseconds on purpose: a watermark that lost them would pull the same rows twice.
T0 = datetime(2024, 3, 1, 9, 30, 0, 123456)


def make_settings(database_url: str, **fields: object) -> Settings:
    settings = Settings(database_url=database_url, **fields)
    create_schema(connect(settings), settings)
    return settings


def add(settings: Settings, rows: list[tuple[str, str]], at: datetime | None = None, **fields: object) -> list[int]:
    examples = [NewExample(text, label, labeled_at=at, **fields) for text, label in rows]
    return insert_examples(connect(settings), settings, examples)


def lineage(settings: Settings) -> Lineage:
    engine = connect(settings)
    registry.create_registry_schema(engine)
    return registry.lineage_of(engine)


def pull_ids(settings: Settings) -> list[int]:
    """The ids waiting for the current champion's lineage, oldest first."""
    return pull_new_rows(connect(settings), settings, lineage(settings)).frame["id"].tolist()


def waiting(settings: Settings) -> int:
    return waiting_counts(connect(settings), settings, lineage(settings)).total


# --- what waits -----------------------------------------------------------------------------------


def test_rows_sharing_one_timestamp_are_never_skipped_or_pulled_twice(database_url: str) -> None:
    settings = make_settings(database_url)
    ids = add(settings, sentiment_rows(5, seed=1), at=T0 - timedelta(seconds=1))
    ids += add(settings, sentiment_rows(12, seed=2), at=T0)  # one timestamp for all twelve
    ids += add(settings, sentiment_rows(3, seed=3), at=T0 + timedelta(seconds=1))

    first = pull_ids(settings)[:9]  # a version that consumed only part of one timestamp
    v1 = register_consumed(settings, ids=first)
    assert v1.watermark == Watermark(T0, first[-1])
    rest = pull_ids(settings)
    assert sorted(first + rest) == sorted(ids) and not set(first) & set(rest)
    assert waiting(settings) == len(rest) == len(ids) - 9
    register_consumed(settings)
    assert pull_ids(settings) == [] and waiting(settings) == 0


def test_a_late_row_stamped_before_the_watermark_is_pulled_by_the_next_run(database_url: str) -> None:
    # A backfill of old labels, a long transaction, an import whose `now` was taken before another
    # writer committed: the row lands behind the champion's watermark, and must still be trained on.
    settings = make_settings(database_url)
    add(settings, sentiment_rows(20), at=T0)
    champion = register_consumed(settings)
    [late] = add(settings, [("labeled an hour before the run, committed after it", "positive")],
                 at=T0 - timedelta(hours=1))
    [new] = add(settings, [("labeled after the run", "negative")], at=T0 + timedelta(hours=1))

    batch = pull_new_rows(connect(settings), settings, lineage(settings))
    assert batch.frame["id"].tolist() == [late, new] and batch.behind == 1
    assert waiting_counts(connect(settings), settings, lineage(settings)).behind == 1
    nxt = register_consumed(settings)
    assert nxt.watermark == Watermark(T0 + timedelta(hours=1), new) > champion.watermark
    assert pull_ids(settings) == []


def test_editing_the_watermark_rows_time_neither_skips_nor_repeats_rows(database_url: str) -> None:
    settings = make_settings(database_url)
    ids = add(settings, sentiment_rows(10), at=T0)
    champion = register_consumed(settings)
    between = add(settings, sentiment_rows(3, seed=4), at=T0 + timedelta(minutes=5))
    table = examples_table(settings)

    def move(row_id: int, at: datetime) -> None:
        with connect(settings).begin() as conn:
            conn.execute(table.update().where(table.c.id == row_id).values(labeled_at=at))

    move(champion.watermark.id, T0 + timedelta(days=1))  # a re-review bumps the watermark row's time
    assert pull_ids(settings) == between
    move(champion.watermark.id, T0 - timedelta(days=1))  # and moving it back trains nothing twice
    assert pull_ids(settings) == between
    move(ids[0], T0 + timedelta(days=2))
    assert pull_ids(settings) == between


def test_rows_are_ordered_by_labeled_at_then_id_not_by_insertion(database_url: str) -> None:
    settings = make_settings(database_url)
    [late] = add(settings, [("labeled last, inserted first", "positive")], at=T0 + timedelta(minutes=10))
    [early] = add(settings, [("labeled first, inserted second", "negative")], at=T0)

    assert pull_ids(settings) == [early, late]
    first = register_consumed(settings)
    assert first.watermark == Watermark(T0 + timedelta(minutes=10), late)

    [same_time] = add(settings, [("same time as the watermark", "positive")], at=T0 + timedelta(minutes=10))
    [back_dated] = add(settings, [("back-dated before the watermark", "negative")], at=T0 + timedelta(minutes=5))
    [newer] = add(settings, [("newer than the watermark", "positive")], at=T0 + timedelta(minutes=20))
    assert pull_ids(settings) == [back_dated, same_time, newer]
    counts = waiting_counts(connect(settings), settings, lineage(settings))
    assert (counts.past, counts.behind) == (2, 1)


def test_a_rejected_challenger_consumes_nothing_and_a_rollback_brings_its_rows_back(database_url: str) -> None:
    settings = make_settings(database_url)
    first = add(settings, sentiment_rows(10), at=T0)
    v1 = register_consumed(settings)
    second = add(settings, sentiment_rows(10, seed=2), at=T0 + timedelta(hours=1))
    register_consumed(settings, promote=False)  # rejected: its rows still wait
    assert pull_ids(settings) == second
    v3 = register_consumed(settings)
    assert pull_ids(settings) == [] and v3.parent_version == v1.version
    registry.rollback(connect(settings), actor="test", reason="test", to_version=v1.version)
    assert pull_ids(settings) == second
    assert not set(pull_ids(settings)) & set(first)


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


def test_an_explicit_split_column_overrides_the_hash_case_and_spaces_aside(database_url: str) -> None:
    settings = make_settings(database_url, split_column="split")
    ids = add(settings, sentiment_rows(40))
    table = examples_table(settings)
    flipped = {i: TRAIN if split_of(i, settings.test_fraction) == TEST else TEST for i in ids[:30]}
    spelled = {TRAIN: ["train", "TRAIN", " Train "], TEST: ["test", "TEST", "test "]}
    with connect(settings).begin() as conn:
        for n, (row_id, split) in enumerate(flipped.items()):
            conn.execute(table.update().where(table.c.id == row_id).values(split=spelled[split][n % 3]))
        conn.execute(table.update().where(table.c.id == ids[30]).values(split=""))  # empty: the hash decides
    assert set(flipped.values()) == {TRAIN, TEST}

    batch = pull_new_rows(connect(settings), settings)
    splits = dict(zip(batch.frame["id"], batch.frame["split"], strict=True))
    assert all(splits[i] == flipped[i] for i in ids[:30])
    assert all(splits[i] == split_of(i, settings.test_fraction) for i in ids[30:])
    expected = {i for i in ids if (flipped.get(i) or split_of(i, settings.test_fraction)) == TEST}
    assert set(held_out_set(connect(settings), settings, None, batch).frame["id"]) == expected


def test_an_unknown_split_value_is_a_named_error(database_url: str) -> None:
    settings = make_settings(database_url, split_column="split")
    ids = add(settings, sentiment_rows(5))
    table = examples_table(settings)
    with connect(settings).begin() as conn:
        conn.execute(table.update().where(table.c.id == ids[3]).values(split="holdout"))
    with pytest.raises(BadSplitValue, match=rf"row {ids[3]}: 'holdout'") as raised:
        pull_new_rows(connect(settings), settings)
    assert "'split'" in str(raised.value) and "labeled_examples" in str(raised.value)


def test_the_ledger_keeps_a_rows_split_when_its_split_column_is_edited_later(database_url: str) -> None:
    settings = make_settings(database_url, split_column="split")
    ids = add(settings, sentiment_rows(20))
    register_consumed(settings, promote=False)  # a rejected challenger consumed them: they still wait
    held = {i for i in ids if split_of(i, settings.test_fraction) == TEST}
    table = examples_table(settings)
    with connect(settings).begin() as conn:
        conn.execute(table.update().values(split="train"))  # someone relabels every split
    batch = pull_new_rows(connect(settings), settings)
    assert set(batch.frame.loc[batch.frame["split"] == TEST, "id"]) == held  # held out once, never trained


def test_the_test_fraction_is_fixed_with_the_first_version(database_url: str) -> None:
    settings = make_settings(database_url)
    add(settings, sentiment_rows(20))
    engine = connect(settings)
    assert fixed_test_fraction(engine, settings) == 0.2  # nothing fixed yet: the setting
    register_consumed(settings)
    assert fixed_test_fraction(engine, settings) == 0.2
    with pytest.raises(FixedFactMismatch, match=r"RETRAIN_TEST_FRACTION is fixed to 0\.2 .*got 0\.3"):
        fixed_test_fraction(engine, settings.with_overrides(test_fraction=0.3))


def set_label(settings: Settings, row_id: int, label: str) -> None:
    table = examples_table(settings)
    with connect(settings).begin() as conn:
        conn.execute(table.update().where(table.c.id == row_id).values(label=label))


def test_the_held_out_set_is_the_lineages_test_rows_and_the_batchs_and_never_trained_on(database_url: str) -> None:
    settings = make_settings(database_url)
    engine = connect(settings)
    rows = sentiment_rows(300)
    ids = insert_examples(engine, settings, [
        NewExample(text, label, labeled_at=T0 + timedelta(seconds=i)) for i, (text, label) in enumerate(rows[:200])
    ])

    week_one = pull_new_rows(engine, settings)
    held_one = held_out_set(engine, settings, None, week_one)
    test_ids = {i for i in ids if split_of(i, settings.test_fraction) == TEST}
    assert test_ids and set(held_one.frame["id"]) == test_ids
    assert set(held_one.frame["split"]) == {TEST} and held_one.size == len(test_ids)
    assert not set(held_one.frame["id"]) & set(week_one.training_rows["id"])
    assert set(week_one.training_rows["id"]) | test_ids == set(ids)
    register_consumed(settings)

    # More rows arrive; earlier test rows stay held out, and no training batch ever contains one.
    add(settings, rows[200:], at=T0 + timedelta(hours=1))
    week_two = pull_new_rows(engine, settings, lineage(settings))
    held_two = held_out_set(engine, settings, week_two.lineage, week_two)
    assert set(held_one.frame["id"]) < set(held_two.frame["id"])
    for batch in (week_one, week_two):
        assert not set(batch.training_rows["id"]) & set(held_two.frame["id"])
        assert set(batch.frame[batch.frame["split"] == TEST]["id"]) <= set(held_two.frame["id"])


def test_the_held_out_hash_is_stable_and_changes_only_with_its_own_rows(database_url: str) -> None:
    settings = make_settings(database_url)
    engine = connect(settings)
    ids = add(settings, sentiment_rows(80), at=T0)
    register_consumed(settings, ids=ids[:60])
    current = lineage(settings)

    def snapshot():
        return held_out_set(engine, settings, current)

    first = snapshot()
    assert len(first.content_hash) == 64 and first.size > 0
    assert snapshot().content_hash == first.content_hash

    add(settings, sentiment_rows(10, seed=5), at=T0 + timedelta(days=1))  # waiting rows are not in it
    train_id = next(i for i in ids[:60] if split_of(i, settings.test_fraction) == TRAIN)
    set_label(settings, train_id, "negative" if train_id % 2 else "positive")
    later_test_id = next(i for i in ids[60:] if split_of(i, settings.test_fraction) == TEST)
    set_label(settings, later_test_id, "negative")
    assert snapshot().content_hash == first.content_hash

    test_id = int(first.frame["id"].iloc[0])
    old = first.frame.set_index("id").loc[test_id, "label"]
    set_label(settings, test_id, "negative" if old == "positive" else "positive")
    changed = snapshot()
    assert changed.content_hash != first.content_hash
    assert changed.frame["id"].tolist() == first.frame["id"].tolist()

    set_label(settings, test_id, old)
    assert snapshot().content_hash == first.content_hash


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

    frame = pull_new_rows(engine, settings).frame.set_index("id")
    assert [frame.loc[i, "text"] for i in ids] == NASTY_TEXTS
    assert existing_texts(engine, settings, NASTY_TEXTS + ["not stored"]) == dict(zip(NASTY_TEXTS, ids, strict=True))

    assert sa.inspect(engine).has_table("labeled_examples")
    assert count_rows(engine, settings) == len(before) + len(NASTY_TEXTS)
    assert pull_ids(settings) == before + ids


# --- a team's own table -------------------------------------------------------------------------------


def create_team_table(database_url: str, rows: dict[int, tuple[str, str, datetime]], timezone: bool = False) -> None:
    """A team's table, written by another program; ``timezone``: its time column is timestamptz."""
    metadata = sa.MetaData()
    reviews = sa.Table(
        "team_reviews", metadata,
        sa.Column("review_id", sa.Integer, primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("sentiment", sa.String(20), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=timezone), nullable=False),
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
    create_bookkeeping_schema(engine)

    first = pull_new_rows(engine, settings)
    assert list(first.frame.columns) == ["id", "text", "label", "labeled_at", "prior_role", "split"]
    assert first.frame["id"].tolist() == [1001, 1005, 1002, 1010]
    assert first.frame["text"].tolist() == ["loved it", "hated it", "fine, really fine", "never again"]
    assert first.frame["label"].tolist() == ["positive", "negative", "positive", "negative"]
    assert first.frame["split"].tolist() == [split_of(i, settings.test_fraction) for i in (1001, 1005, 1002, 1010)]
    assert first.end == Watermark(T0 + timedelta(hours=2), 1010)

    register_consumed(settings, ids=[1001, 1005, 1002])
    assert pull_ids(settings) == [1010] and waiting(settings) == 1
    assert existing_texts(engine, settings, ["never again", "unknown"]) == {"never again": 1010}
    held = held_out_set(engine, settings, lineage(settings), pull_new_rows(engine, settings, lineage(settings)))
    assert set(held.frame["id"]) == {i for i in rows if split_of(i, settings.test_fraction) == TEST}


def test_a_timestamptz_labeled_at_column_is_compared_as_utc(postgres_url: str) -> None:
    from datetime import UTC

    rows = {1: ("loved it", "positive", T0.replace(tzinfo=UTC)), 2: ("hated it", "negative", T0.replace(tzinfo=UTC))}
    create_team_table(postgres_url, rows, timezone=True)
    settings = team_settings(postgres_url)
    create_bookkeeping_schema(connect(settings))
    batch = pull_new_rows(connect(settings), settings)
    assert batch.frame["labeled_at"].dt.tz is None and batch.end == Watermark(T0, 2)
    register_consumed(settings, ids=[1])
    later = {3: ("fine", "positive", (T0 + timedelta(hours=1)).replace(tzinfo=UTC))}
    with sa.create_engine(postgres_url).begin() as conn:
        conn.execute(sa.text("INSERT INTO team_reviews VALUES (3, :body, :label, :at, 'ana')"),
                     {"body": later[3][0], "label": later[3][1], "at": later[3][2]})
    assert pull_ids(settings) == [2, 3] and waiting(settings) == 2


def test_a_missing_table_is_named(database_url: str) -> None:
    settings = Settings(database_url=database_url, table="no_such_table")
    engine = connect(settings)
    with pytest.raises(LookupError, match="no_such_table"):
        pull_new_rows(engine, settings)
    with pytest.raises(LookupError, match="no_such_table"):
        waiting_counts(engine, settings)
    assert not sa.inspect(engine).has_table("no_such_table")


def test_a_missing_column_is_named_with_its_table(database_url: str) -> None:
    create_team_table(database_url, {1: ("good", "positive", T0)})
    settings = team_settings(database_url, label_column="stars")
    engine = connect(settings)
    with pytest.raises(LookupError, match="stars") as raised:
        pull_new_rows(engine, settings)
    assert "team_reviews" in str(raised.value)
    with pytest.raises(LookupError, match="stars"):
        held_out_set(engine, settings, Lineage((1,), Watermark(T0, 1)))


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
    after = Lineage((1,), Watermark(*recent))

    compiled = pull_query(table, settings, after).compile(dialect=engine.dialect,
                                                         compile_kwargs={"render_postcompile": True})
    with engine.connect() as conn:
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars())
        pulled = conn.execute(pull_query(table, settings, after)).all()
    # A seek: the index's condition is the watermark, not a full walk of the table that filters every row;
    # the anti-joins against the ledger and the quarantine then probe their own indexes row by row.
    assert re.search(r"Index (Only )?Scan using ix_labeled_examples_watermark on labeled_examples", plan), plan
    assert re.search(r"Index Cond: \(ROW\(labeled_at, id\) > ROW\(", plan), plan
    assert "Seq Scan on labeled_examples" not in plan and "Seq Scan on retrain_ledger" not in plan, plan
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
    create_bookkeeping_schema(engine)

    register_consumed(settings, ids=[1, 2])
    assert pull_ids(settings) == [3, 4]  # row 3 shares the watermark's second
    assert waiting_counts(engine, settings, lineage(settings)).total == 2
