"""The data layer: labeled rows in a SQL table, and which of them wait for the next run.

The table is ours (``labeled_examples``) or a team's existing one mapped by the settings'
column names. Every query uses bound parameters. What waits is decided by the consumption
ledger (``data.ledger``), not by timestamps: every row is trained on, held out, quarantined
or waiting. A row's split (train or held-out test) is decided once, by a hash of its id against
the test fraction fixed with the first version, or by an explicit split column, and the ledger
keeps it: a row held out once is never trained on.

>>> from data.settings import Settings
>>> s = Settings(database_url="sqlite://", table="doc_store")
>>> engine = connect(s); create_schema(engine, s)
>>> ids = insert_examples(engine, s, [NewExample("great film", "positive")])
>>> pull_new_rows(engine, s).frame["text"].tolist()
['great film']
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from data import meta
from data.ledger import (
    CONSUMING_ROLES,
    EARLY_STOPPING,
    HELD_OUT,
    NO_CHAMPION,
    REPLAY,
    TRAINED,
    Consumption,
    Lineage,
    Watermark,
    consumed_clause,
    create_ledger_schema,
    ledger_table,
    prior_role,
)
from data.settings import Settings

__all__ = ["Lineage", "Watermark"]  # re-exported: callers of the data layer need only this module

TRAIN, TEST = "train", "test"
IN_CHUNK = 500  # bound parameters per IN (...) query; SQLite allows 32766, PG 65535
# Row ids and version numbers: 64-bit, except in SQLite, where only INTEGER PRIMARY KEY autoincrements.
ID_TYPE = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TEST_FRACTION_FACT = "test_fraction"


class MissingDatabase(LookupError):
    """A read-only command found no database where the settings point."""


class BadSplitValue(ValueError):
    """An explicit split column holds a value that is neither train nor test."""


@dataclass(frozen=True)
class NewExample:
    """A labeled row to insert."""

    text: str
    label: str
    labeled_at: datetime | None = None
    source: str | None = None
    confidence: float | None = None
    split: str | None = None


@dataclass(frozen=True)
class LabeledBatch:
    """The rows waiting for the champion's lineage: columns id, text, label, labeled_at, split,
    prior_role (and confidence when mapped), oldest first."""

    frame: pd.DataFrame
    source_table: str
    lineage: Lineage = NO_CHAMPION
    behind: int = 0  # rows pulled from behind the champion's watermark (late, edited, released, rolled back)

    @property
    def end(self) -> Watermark | None:
        """The furthest (labeled_at, id) position in the batch; None when it is empty."""
        if self.frame.empty:
            return None
        latest = self.frame["labeled_at"].max()
        return Watermark(pd.Timestamp(latest).to_pydatetime(), int(self.frame.loc[self.frame["labeled_at"] == latest,
                                                                                   "id"].max()))

    @property
    def after(self) -> Watermark | None:
        """The champion's watermark the pull started from (None before the first champion)."""
        return self.lineage.watermark

    @property
    def training_rows(self) -> pd.DataFrame:
        """The pulled rows that may be trained on (held-out rows never are)."""
        return self.frame[self.frame["split"] == TRAIN]

    def consumption(self, test_fraction: float, early_stopping_ids: Iterable[int] = (),
                    replayed_ids: Iterable[int] = ()) -> Consumption:
        """What a version trained on this batch consumed: its training rows (but those held back for
        early stopping, which wait for the next run), its held-out rows, and the older rows it replayed."""
        stopping = {int(i) for i in early_stopping_ids}
        train_ids = [int(i) for i in self.training_rows["id"]]
        unknown = stopping - set(train_ids)
        if unknown:
            raise ValueError(f"early-stopping rows {sorted(unknown)[:10]} are not training rows of this batch")
        return Consumption(
            source_table=self.source_table,
            rows={TRAINED: tuple(i for i in train_ids if i not in stopping), EARLY_STOPPING: tuple(sorted(stopping)),
                  HELD_OUT: tuple(int(i) for i in self.frame.loc[self.frame["split"] == TEST, "id"]),
                  REPLAY: tuple(sorted({int(i) for i in replayed_ids}))},
            test_fraction=test_fraction,
        )

    @property
    def frontier(self) -> Watermark | None:
        """The watermark a version trained on this batch records: the furthest position its lineage consumed."""
        marks = [m for m in (self.lineage.watermark, self.end) if m is not None]
        return max(marks) if marks else None


@dataclass(frozen=True)
class HeldOutSet:
    """The held-out rows both models are scored on, and a content hash that identifies this snapshot."""

    frame: pd.DataFrame
    content_hash: str

    @property
    def size(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class WaitingCounts:
    """Rows waiting for the next run: past the champion's watermark, and behind it (never consumed)."""

    past: int
    behind: int

    @property
    def total(self) -> int:
        return self.past + self.behind


def utcnow() -> datetime:
    """Naive UTC now: the store keeps naive UTC timestamps so SQLite and PostgreSQL agree."""
    return datetime.now(UTC).replace(tzinfo=None)


def split_of(row_id: int, test_fraction: float) -> str:
    """The split a row belongs to, forever: a hash of its id against the test fraction.

    >>> split_of(1, 0.2), split_of(1, 0.2) == split_of(1, 0.2)
    ('train', True)
    """
    digest = hashlib.sha256(str(int(row_id)).encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return TEST if position < test_fraction else TRAIN


@lru_cache(maxsize=8)
def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, future=True, pool_pre_ping=True)


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL (None for another database or an in-memory one)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def connect(settings: Settings, must_exist: bool = False) -> sa.Engine:
    """The engine for the settings' database (one per URL and process).

    ``must_exist``: refuse a SQLite file that is not there instead of creating it (read-only
    commands, and runs: a run from another folder must not open a fresh, empty database).
    """
    url = settings.resolved_database_url()
    path = sqlite_file(url)
    if path is not None and not path.exists():
        if must_exist:
            raise MissingDatabase(
                f"no database at {path}: run `retrain init` there first, or point RETRAIN_HOME (now "
                f"{settings.home}) or RETRAIN_DATABASE_URL at the existing one"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    return _engine(url)


def examples_table(settings: Settings, metadata: sa.MetaData | None = None) -> sa.Table:
    """The labeled-examples table as the settings map it (our schema or a team's table)."""
    metadata = metadata or sa.MetaData()
    columns = [
        sa.Column(settings.id_column, ID_TYPE,
                  primary_key=True, autoincrement=True),
        sa.Column(settings.text_column, sa.Text, nullable=False),
        sa.Column(settings.label_column, sa.String(200), nullable=False),
        sa.Column(settings.labeled_at_column, sa.DateTime, nullable=False, default=utcnow),
    ]
    optional = [
        (settings.source_column, sa.String(200)),
        (settings.confidence_column, sa.Float),
        (settings.split_column, sa.String(10)),
    ]
    columns += [sa.Column(name, kind, nullable=True) for name, kind in optional if name]
    table = sa.Table(settings.table, metadata, *columns)
    # The pull seeks on (labeled_at, id) past the champion's watermark; without this index it scans the table.
    sa.Index(f"ix_{settings.table}_watermark", table.c[settings.labeled_at_column],
             table.c[settings.id_column])
    return table


def create_schema(engine: sa.Engine, settings: Settings) -> None:
    """Create the labeled-examples table and its watermark index, the quarantine tables, the ledger and
    the facts table, if they do not exist."""
    examples_table(settings).metadata.create_all(engine, checkfirst=True)
    create_bookkeeping_schema(engine)


def create_bookkeeping_schema(engine: sa.Engine) -> None:
    """Create retrain's own tables (quarantine, ledger, facts), never the labeled-examples table."""
    create_quarantine_schema(engine)
    create_ledger_schema(engine)
    meta.create_meta_schema(engine)


def insert_or_ignore(conn: sa.Connection, table: sa.Table, rows: Sequence[dict]) -> None:
    """Insert rows, skipping those whose primary key is already there (two runs may write the same facts)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        conn.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)
    else:  # another database: one at a time, each in a savepoint
        for row in rows:
            try:
                with conn.begin_nested():
                    conn.execute(table.insert().values(**row))
            except sa.exc.IntegrityError:
                pass


# --- quarantine ---------------------------------------------------------------------------------
# Rows that failed a row-level data check are quarantined in a table of our own, never by touching
# the labeled rows: a team's mapped table keeps its schema, and nothing labeled is ever deleted.
# One entry per (row, check); an entry is active until a person releases it. The operations live
# in validation.quarantine; the pull and the held-out set only need to leave active entries out.
_quarantine_metadata = sa.MetaData()

quarantine_table = sa.Table(
    "retrain_quarantine", _quarantine_metadata,
    sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    sa.Column("source_table", sa.String(200), nullable=False),  # settings.table: one database, many tables
    sa.Column("row_id", sa.BigInteger, nullable=False),
    sa.Column("check_name", sa.String(100), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("quarantined_at", sa.DateTime, nullable=False),
    sa.Column("flow_run", sa.String(200), nullable=True),
    sa.Column("released_at", sa.DateTime, nullable=True),
    sa.Column("released_by", sa.String(200), nullable=True),
    sa.Index("ix_retrain_quarantine_row", "source_table", "row_id"),
)


def create_quarantine_schema(engine: sa.Engine) -> None:
    """Create the quarantine table if it does not exist (never the labeled-examples table)."""
    _quarantine_metadata.create_all(engine, checkfirst=True)


def require_bookkeeping(engine: sa.Engine) -> None:
    """Refuse a database whose retrain tables were never created (read-only commands create nothing)."""
    inspector = sa.inspect(engine)
    missing = [t.name for t in (quarantine_table, ledger_table, meta.meta_table) if not inspector.has_table(t.name)]
    if missing:
        raise LookupError(f"{engine.url.render_as_string(hide_password=True)} has no {', '.join(missing)} table: "
                          "run `retrain init` to create retrain's tables")


def quarantined_ids(engine: sa.Engine, settings: Settings) -> set[int]:
    """Ids of the rows with an active (unreleased) quarantine entry; none before the table exists."""
    if not sa.inspect(engine).has_table(quarantine_table.name):
        return set()
    q = quarantine_table
    query = sa.select(q.c.row_id).where(q.c.source_table == settings.table, q.c.released_at.is_(None)).distinct()
    with engine.connect() as conn:
        return {int(row_id) for row_id in conn.execute(query).scalars()}


def _quarantined_clause(id_column: sa.ColumnElement, settings: Settings) -> sa.ColumnElement[bool]:
    q = quarantine_table
    return sa.exists().where(q.c.source_table == settings.table, q.c.row_id == id_column, q.c.released_at.is_(None))


def require_table(engine: sa.Engine, settings: Settings) -> sa.Table:
    """The labeled-examples table, after checking it and retrain's tables exist and have the mapped
    columns: a missing one is an error that names it and says how to create it."""
    table = examples_table(settings)
    inspector = sa.inspect(engine)
    if not inspector.has_table(settings.table):
        raise LookupError(
            f"table {settings.table!r} does not exist in {engine.url.render_as_string(hide_password=True)};"
            " run `retrain init` or set RETRAIN_TABLE"
        )
    present = {column["name"] for column in inspector.get_columns(settings.table)}
    missing = [column.name for column in table.columns if column.name not in present]
    if missing:
        raise LookupError(
            f"table {settings.table!r} lacks column(s) {missing}; map yours with "
            "RETRAIN_ID_COLUMN, RETRAIN_TEXT_COLUMN, RETRAIN_LABEL_COLUMN, RETRAIN_LABELED_AT_COLUMN, "
            "RETRAIN_SOURCE_COLUMN, RETRAIN_CONFIDENCE_COLUMN (set optional ones to empty to skip them)"
        )
    missing_tables = [t.name for t in (quarantine_table, ledger_table) if not inspector.has_table(t.name)]
    if missing_tables:
        raise LookupError(f"{engine.url.render_as_string(hide_password=True)} has no {', '.join(missing_tables)} "
                          "table: run `retrain init` to create retrain's tables")
    return table


def insert_examples(engine: sa.Engine, settings: Settings, rows: Iterable[NewExample]) -> list[int]:
    """Insert labeled rows in one transaction and return their ids."""
    table = examples_table(settings)
    now = utcnow()
    ids: list[int] = []
    with engine.begin() as conn:
        for row in rows:
            values = {
                settings.text_column: row.text,
                settings.label_column: row.label,
                settings.labeled_at_column: row.labeled_at or now,
            }
            for column, value in ((settings.source_column, row.source),
                                  (settings.confidence_column, row.confidence),
                                  (settings.split_column, row.split)):
                if column:
                    values[column] = value
            result = conn.execute(table.insert().values(**values))
            ids.append(int(result.inserted_primary_key[0]))
    return ids


def fixed_test_fraction(engine: sa.Engine, settings: Settings) -> float:
    """The held-out fraction of this database: the one fixed with the first version, else the setting.

    Raises ``meta.FixedFactMismatch`` when RETRAIN_TEST_FRACTION differs from the fixed one: a new
    fraction would move rows the champion trained on into the held-out set.
    """
    fixed = meta.read_fact(engine, TEST_FRACTION_FACT)
    if fixed is not None and not math.isclose(fixed, settings.test_fraction):
        raise meta.FixedFactMismatch(
            "RETRAIN_TEST_FRACTION", fixed, settings.test_fraction,
            " (recorded with the first version: changing it would move trained rows into the held-out set;"
            " unset RETRAIN_TEST_FRACTION or use a new database)")
    return settings.test_fraction


_SPLIT_WORDS = {TRAIN: TRAIN, TEST: TEST}


def _explicit_split(value: object) -> str | None:
    """A split column's value, normalised (case, spaces); None when empty (the hash decides)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    word = str(value).strip().lower()
    return _SPLIT_WORDS.get(word, word) if word else None


def _as_frame(rows: Sequence[sa.Row], settings: Settings) -> pd.DataFrame:
    frame = pd.DataFrame(
        [tuple(row) for row in rows],
        columns=["id", "text", "label", "labeled_at", "explicit_split", "confidence", "source", "prior_role"],
    )
    frame["id"] = frame["id"].astype("int64")
    if isinstance(frame["labeled_at"].dtype, pd.DatetimeTZDtype):
        # A team's timestamptz column: compared as naive UTC like ours, never aware with naive.
        frame["labeled_at"] = frame["labeled_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    explicit = [_explicit_split(value) for value in frame["explicit_split"]]
    bad = [(int(i), raw) for i, raw, word in zip(frame["id"], frame["explicit_split"], explicit, strict=True)
           if word not in (None, TRAIN, TEST)]
    if bad:
        shown = ", ".join(f"row {i}: {raw!r}" for i, raw in bad[:10])
        raise BadSplitValue(
            f"split column {settings.split_column!r} of table {settings.table!r} holds {len(bad)} value(s) that are "
            f"neither 'train' nor 'test' (case and spaces are ignored; empty means the hash decides): {shown}")
    frame["split"] = [
        # The ledger keeps a split once a version consumed the row, whatever the column says now.
        (TEST if role == HELD_OUT else TRAIN) if isinstance(role, str)
        else word or split_of(row_id, settings.test_fraction)
        for row_id, word, role in zip(frame["id"], explicit, frame["prior_role"], strict=True)
    ]
    frame["prior_role"] = frame["prior_role"].astype(object).where(frame["prior_role"].notna(), None)
    dropped = ["explicit_split"] + [name for name, column in (("confidence", settings.confidence_column),
                                                                ("source", settings.source_column)) if not column]
    frame = frame.drop(columns=dropped)
    if settings.confidence_column and pd.api.types.infer_dtype(frame["confidence"], skipna=True) in (
            "floating", "integer", "empty"):
        # NULLs and numbers as float64 with NaN; anything else stays as stored for the type check to name.
        frame["confidence"] = frame["confidence"].astype("float64")
    return frame


def _selected(table: sa.Table, settings: Settings) -> list[sa.ColumnElement]:
    def optional(name: str | None) -> sa.ColumnElement:
        return table.c[name] if name else sa.null()

    return [
        table.c[settings.id_column], table.c[settings.text_column], table.c[settings.label_column],
        table.c[settings.labeled_at_column], optional(settings.split_column), optional(settings.confidence_column),
        optional(settings.source_column), prior_role(table.c[settings.id_column], settings.table),
    ]


def _position(table: sa.Table, settings: Settings) -> sa.Tuple:
    return sa.tuple_(table.c[settings.labeled_at_column], table.c[settings.id_column])


def _mark(table: sa.Table, settings: Settings, mark: Watermark) -> sa.Tuple:
    """A watermark as a (labeled_at, id) position to compare ``_position`` with.

    Plain bound values, so the planner can estimate the seek from its statistics. Where a team's
    table stores times in another format (SQLite text without microseconds) a row tied with the
    watermark may fall on the other side of it: the two queries are complements, so it is pulled
    by the other one, never lost and never twice.
    """
    at = table.c[settings.labeled_at_column]
    return sa.tuple_(sa.literal(mark.labeled_at, type_=at.type), sa.literal(mark.id))


def _waiting_clause(table: sa.Table, settings: Settings, lineage: Lineage) -> sa.ColumnElement[bool]:
    row_id = table.c[settings.id_column]
    return sa.and_(~consumed_clause(row_id, settings.table, lineage), ~_quarantined_clause(row_id, settings))


def pull_query(table: sa.Table, settings: Settings, lineage: Lineage, behind: bool = False) -> sa.Select:
    """The rows waiting for ``lineage``: past its watermark (``behind=False``: an index seek on
    (labeled_at, id), then an anti-join against the ledger and the quarantine), or behind it (the
    reconciliation: rows never consumed that a timestamp order would have skipped)."""
    query = (sa.select(*_selected(table, settings)).where(_waiting_clause(table, settings, lineage))
             .order_by(table.c[settings.labeled_at_column], table.c[settings.id_column]))
    if lineage.watermark is None:
        return query if not behind else query.where(sa.false())
    position, mark = _position(table, settings), _mark(table, settings, lineage.watermark)
    return query.where(position <= mark if behind else position > mark)


def pull_new_rows(engine: sa.Engine, settings: Settings, lineage: Lineage | None = None) -> LabeledBatch:
    """Every row the champion's lineage has not consumed and no check quarantined, oldest first
    (every unquarantined row before the first champion), whatever its timestamp or commit order."""
    lineage = lineage or NO_CHAMPION
    table = require_table(engine, settings)
    with engine.connect() as conn:
        past = conn.execute(pull_query(table, settings, lineage)).all()
        behind = conn.execute(pull_query(table, settings, lineage, behind=True)).all() if lineage.watermark else []
    frame = _as_frame([*behind, *past], settings)
    frame = frame.sort_values(["labeled_at", "id"], ignore_index=True)
    return LabeledBatch(frame=frame, source_table=settings.table, lineage=lineage, behind=len(behind))


def waiting_counts(engine: sa.Engine, settings: Settings, lineage: Lineage | None = None) -> WaitingCounts:
    """How many rows wait for the next run, past the champion's watermark and behind it."""
    lineage = lineage or NO_CHAMPION
    table = require_table(engine, settings)

    def count(behind: bool) -> int:
        rows = pull_query(table, settings, lineage, behind).order_by(None).subquery()
        return int(conn.execute(sa.select(sa.func.count()).select_from(rows)).scalar_one())

    with engine.connect() as conn:
        return WaitingCounts(past=count(False), behind=count(True) if lineage.watermark else 0)


def count_rows(engine: sa.Engine, settings: Settings) -> int:
    """How many labeled rows the table holds."""
    table = require_table(engine, settings)
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _consumed_rows(engine: sa.Engine, settings: Settings, lineage: Lineage, roles: Sequence[str]) -> pd.DataFrame:
    table = require_table(engine, settings)
    if not lineage.versions:
        return _as_frame([], settings)
    t, row_id = ledger_table, table.c[settings.id_column]
    consumed = (sa.select(t.c.row_id).where(t.c.source_table == settings.table, t.c.version.in_(lineage.versions),
                                            t.c.role.in_(roles)).distinct().subquery())
    query = sa.select(*_selected(table, settings)).join_from(table, consumed, consumed.c.row_id == row_id)
    with engine.connect() as conn:
        return _as_frame(conn.execute(query).all(), settings).sort_values("id", ignore_index=True)


def held_out_set(
    engine: sa.Engine, settings: Settings, lineage: Lineage | None, batch: LabeledBatch | None = None
) -> HeldOutSet:
    """The snapshot both models are scored on: the rows the champion's lineage held out, and the
    batch's own held-out rows (those that passed its checks)."""
    lineage = lineage or NO_CHAMPION
    earlier = _consumed_rows(engine, settings, lineage, [HELD_OUT])
    new = batch.frame[batch.frame["split"] == TEST] if batch is not None else earlier.iloc[0:0]
    frame = pd.concat([earlier, new[earlier.columns]], ignore_index=True) if len(new) else earlier
    frame = frame.drop_duplicates("id").sort_values("id", ignore_index=True)
    return HeldOutSet(frame=frame, content_hash=content_hash(frame))


def consumed_rows(engine: sa.Engine, settings: Settings, lineage: Lineage | None) -> pd.DataFrame:
    """The champion's data: every row its lineage trained on or held out, in id order.

    What a new batch is compared with for duplicates, held-out leakage and label drift.
    """
    return _consumed_rows(engine, settings, lineage or NO_CHAMPION, CONSUMING_ROLES)


def trained_rows(engine: sa.Engine, settings: Settings, lineage: Lineage | None) -> pd.DataFrame:
    """Every row the champion's lineage trained on (replayed ones too), in id order: what replay samples
    from, and what a from-scratch baseline trains on beside the new rows."""
    return _consumed_rows(engine, settings, lineage or NO_CHAMPION, [TRAINED, REPLAY])


def content_hash(frame: pd.DataFrame) -> str:
    """A sha256 over (id, label, text) of a frame's rows, in id order."""
    digest = hashlib.sha256()
    for row_id, label, text in frame.sort_values("id")[["id", "label", "text"]].itertuples(index=False):
        digest.update(f"{int(row_id)}\x1f{label}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def existing_labels(engine: sa.Engine, settings: Settings, texts: Sequence[str]) -> dict[str, dict[str, int]]:
    """Which of ``texts`` are already stored: text -> label -> the id of the first stored row with it."""
    table = require_table(engine, settings)
    text_col, label_col, id_col = (table.c[settings.text_column], table.c[settings.label_column],
                                   table.c[settings.id_column])
    found: dict[str, dict[str, int]] = {}
    unique = list(dict.fromkeys(texts))
    with engine.connect() as conn:
        for start in range(0, len(unique), IN_CHUNK):
            chunk = unique[start:start + IN_CHUNK]
            query = sa.select(text_col, label_col, id_col).where(text_col.in_(chunk)).order_by(id_col)
            for text, label, row_id in conn.execute(query):
                found.setdefault(text, {}).setdefault(label, int(row_id))
    return found


def existing_texts(engine: sa.Engine, settings: Settings, texts: Sequence[str]) -> dict[str, int]:
    """Which of ``texts`` are already stored, mapped to the id of the stored row."""
    table = require_table(engine, settings)
    text_col, id_col = table.c[settings.text_column], table.c[settings.id_column]
    found: dict[str, int] = {}
    unique = list(dict.fromkeys(texts))
    with engine.connect() as conn:
        for start in range(0, len(unique), IN_CHUNK):
            chunk = unique[start:start + IN_CHUNK]
            for text, row_id in conn.execute(sa.select(text_col, id_col).where(text_col.in_(chunk))):
                found.setdefault(text, int(row_id))
    return found
