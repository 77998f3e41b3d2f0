"""The data layer: labeled rows in a SQL table, pulled incrementally past a watermark.

The table is ours (``labeled_examples``) or a team's existing one mapped by the settings'
column names. Every query uses bound parameters. A row's split (train or held-out test)
is decided once, by a hash of its id or by an explicit split column, so the held-out set
stays disjoint from training forever.

>>> from retrain.settings import Settings
>>> s = Settings(database_url="sqlite://", table="doc_store")
>>> engine = connect(s); create_schema(engine, s)
>>> ids = insert_examples(engine, s, [NewExample("great film", "positive")])
>>> pull_new_rows(engine, s, after=None).frame["text"].tolist()
['great film']
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import pandas as pd
import sqlalchemy as sa

from retrain.settings import Settings

TRAIN, TEST = "train", "test"
IN_CHUNK = 500  # bound parameters per IN (...) query; SQLite allows 32766, PG 65535
# Row ids and version numbers: 64-bit, except in SQLite, where only INTEGER PRIMARY KEY autoincrements.
ID_TYPE = sa.BigInteger().with_variant(sa.Integer, "sqlite")


@dataclass(frozen=True, order=True)
class Watermark:
    """A position in the labeled stream: rows sort by (labeled_at, id), so rows that share a
    timestamp are still ordered and none is skipped."""

    labeled_at: datetime
    id: int


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
    """Rows labeled after a watermark: columns id, text, label, labeled_at, split (and confidence when mapped)."""

    frame: pd.DataFrame
    after: Watermark | None
    end: Watermark | None  # the last row pulled; None when nothing new
    # Rows a person released from quarantine that lie behind the watermark and were added to the
    # pull (see validation.quarantine): they come back until a champion has trained on them.
    released_ids: tuple[int, ...] = ()

    @property
    def training_rows(self) -> pd.DataFrame:
        """The new rows that may be trained on (held-out rows never are)."""
        return self.frame[self.frame["split"] == TRAIN]


@dataclass(frozen=True)
class HeldOutSet:
    """The test rows up to a watermark, and a content hash that identifies this snapshot."""

    frame: pd.DataFrame
    content_hash: str

    @property
    def size(self) -> int:
        return len(self.frame)


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


def connect(settings: Settings) -> sa.Engine:
    """The engine for the settings' database (one per URL and process)."""
    url = settings.resolved_database_url()
    if url.startswith("sqlite:///"):
        settings.home.expanduser().mkdir(parents=True, exist_ok=True)
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
    # The incremental pull seeks on (labeled_at, id); without this index it scans the table.
    sa.Index(f"ix_{settings.table}_watermark", table.c[settings.labeled_at_column],
             table.c[settings.id_column])
    return table


def create_schema(engine: sa.Engine, settings: Settings) -> None:
    """Create the labeled-examples table and its watermark index, and the quarantine tables, if they do not exist."""
    examples_table(settings).metadata.create_all(engine, checkfirst=True)
    create_quarantine_schema(engine)


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

# Which model versions trained on a released row: it stays in the pull until one of them is the
# champion or an ancestor of it (a rollback past that version brings the row back).
released_training_table = sa.Table(
    "retrain_released_training", _quarantine_metadata,
    sa.Column("source_table", sa.String(200), primary_key=True),
    sa.Column("row_id", sa.BigInteger, primary_key=True),
    sa.Column("version", ID_TYPE, primary_key=True),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
)


def create_quarantine_schema(engine: sa.Engine) -> None:
    """Create the quarantine tables if they do not exist (never the labeled-examples table)."""
    _quarantine_metadata.create_all(engine, checkfirst=True)


def quarantined_ids(engine: sa.Engine, settings: Settings) -> set[int]:
    """Ids of the rows with an active (unreleased) quarantine entry; none before the table exists."""
    if not sa.inspect(engine).has_table(quarantine_table.name):
        return set()
    q = quarantine_table
    query = sa.select(q.c.row_id).where(q.c.source_table == settings.table, q.c.released_at.is_(None)).distinct()
    with engine.connect() as conn:
        return {int(row_id) for row_id in conn.execute(query).scalars()}


def _require_columns(engine: sa.Engine, settings: Settings) -> sa.Table:
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


def _as_frame(rows: Sequence[sa.Row], settings: Settings) -> pd.DataFrame:
    frame = pd.DataFrame(
        [tuple(row) for row in rows],
        columns=["id", "text", "label", "labeled_at", "explicit_split", "confidence", "source"],
    )
    frame["id"] = frame["id"].astype("int64")
    if not settings.source_column:  # per-source scores need it; a table without one has no such slices
        frame = frame.drop(columns="source")
    frame["split"] = [
        explicit if explicit in (TRAIN, TEST) else split_of(row_id, settings.test_fraction)
        for row_id, explicit in zip(frame["id"], frame["explicit_split"], strict=True)
    ]
    if not settings.confidence_column:
        return frame.drop(columns=["explicit_split", "confidence"])
    if pd.api.types.infer_dtype(frame["confidence"], skipna=True) in ("floating", "integer", "empty"):
        # NULLs and numbers as float64 with NaN; anything else stays as stored for the type check to name.
        frame["confidence"] = frame["confidence"].astype("float64")
    return frame.drop(columns="explicit_split")


def _selected(table: sa.Table, settings: Settings) -> list[sa.ColumnElement]:
    split = table.c[settings.split_column] if settings.split_column else sa.null()
    confidence = table.c[settings.confidence_column] if settings.confidence_column else sa.null()
    source = table.c[settings.source_column] if settings.source_column else sa.null()
    return [
        table.c[settings.id_column], table.c[settings.text_column], table.c[settings.label_column],
        table.c[settings.labeled_at_column], split, confidence, source,
    ]


def _position(table: sa.Table, settings: Settings) -> sa.Tuple:
    return sa.tuple_(table.c[settings.labeled_at_column], table.c[settings.id_column])


def _mark(table: sa.Table, settings: Settings, mark: Watermark) -> sa.Tuple:
    """A watermark as a (labeled_at, id) position to compare ``_position`` with.

    The time is read back from the watermark's own row when it still exists: SQLite stores times
    as text, and a team's table may write them without microseconds ('2026-01-05 09:00:00'), which
    sorts before the bound '2026-01-05 09:00:00.000000' and would skip rows tied with the watermark.
    Comparing the column with a value from the same column is exact in every format.
    """
    at, row_id = table.c[settings.labeled_at_column], table.c[settings.id_column]
    stored = sa.select(at).where(row_id == sa.literal(mark.id)).scalar_subquery()
    return sa.tuple_(sa.func.coalesce(stored, sa.literal(mark.labeled_at, type_=at.type)), sa.literal(mark.id))


def pull_query(table: sa.Table, settings: Settings, after: Watermark | None, limit: int | None = None) -> sa.Select:
    """The incremental pull: a seek on the (labeled_at, id) index past the watermark."""
    query = sa.select(*_selected(table, settings)).order_by(
        table.c[settings.labeled_at_column], table.c[settings.id_column]
    )
    if after is not None:
        position = _position(table, settings)
        query = query.where(position > _mark(table, settings, after))
    return query if limit is None else query.limit(limit)


def pull_new_rows(
    engine: sa.Engine, settings: Settings, after: Watermark | None, limit: int | None = None
) -> LabeledBatch:
    """Rows labeled after the watermark, oldest first (all rows when ``after`` is None)."""
    query = pull_query(_require_columns(engine, settings), settings, after, limit)
    with engine.connect() as conn:
        frame = _as_frame(conn.execute(query).all(), settings)
    end = None
    if len(frame):
        last = frame.iloc[-1]
        end = Watermark(pd.Timestamp(last["labeled_at"]).to_pydatetime(), int(last["id"]))
    # Quarantined rows stay out, but the end (the next watermark) still passes them: a released
    # row comes back through validation.quarantine.with_released_rows, not through the watermark.
    held = quarantined_ids(engine, settings)
    if held:
        frame = frame[~frame["id"].isin(held)].reset_index(drop=True)
    return LabeledBatch(frame=frame, after=after, end=end)


def count_rows_after(engine: sa.Engine, settings: Settings, after: Watermark | None) -> int:
    """How many rows wait past the watermark."""
    table = _require_columns(engine, settings)
    query = sa.select(sa.func.count()).select_from(table)
    if after is not None:
        query = query.where(
            _position(table, settings) > _mark(table, settings, after)
        )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def held_out_set(engine: sa.Engine, settings: Settings, up_to: Watermark) -> HeldOutSet:
    """All held-out rows labeled up to ``up_to``: the snapshot both models are scored on."""
    table = _require_columns(engine, settings)
    within = _position(table, settings) <= _mark(table, settings, up_to)
    split = table.c[settings.split_column] if settings.split_column else sa.null()
    with engine.connect() as conn:
        candidates = conn.execute(sa.select(table.c[settings.id_column], split).where(within)).all()
        held = quarantined_ids(engine, settings)  # quarantined rows are scored on no more than trained on
        test_ids = [
            int(row_id) for row_id, explicit in candidates
            if (explicit if explicit in (TRAIN, TEST) else split_of(row_id, settings.test_fraction)) == TEST
            and int(row_id) not in held
        ]
        rows: list[sa.Row] = []
        for start in range(0, len(test_ids), IN_CHUNK):
            chunk = test_ids[start:start + IN_CHUNK]
            rows += conn.execute(
                sa.select(*_selected(table, settings)).where(table.c[settings.id_column].in_(chunk))
            ).all()
    frame = _as_frame(rows, settings).sort_values("id", ignore_index=True)
    return HeldOutSet(frame=frame, content_hash=content_hash(frame))


def rows_up_to(engine: sa.Engine, settings: Settings, up_to: Watermark) -> pd.DataFrame:
    """Every row labeled up to ``up_to`` (the champion's data, both splits), without quarantined rows.

    What a new batch is compared with for duplicates, held-out leakage and label drift.
    """
    table = _require_columns(engine, settings)
    within = _position(table, settings) <= _mark(table, settings, up_to)
    with engine.connect() as conn:
        frame = _as_frame(conn.execute(sa.select(*_selected(table, settings)).where(within)).all(), settings)
    held = quarantined_ids(engine, settings)
    return frame[~frame["id"].isin(held)].reset_index(drop=True) if held else frame


def rows_by_id(engine: sa.Engine, settings: Settings, ids: Sequence[int]) -> pd.DataFrame:
    """The rows with these ids, oldest first, in the pull's columns."""
    table = _require_columns(engine, settings)
    rows: list[sa.Row] = []
    with engine.connect() as conn:
        for start in range(0, len(ids), IN_CHUNK):
            chunk = [int(i) for i in ids[start:start + IN_CHUNK]]
            rows += conn.execute(sa.select(*_selected(table, settings)).where(table.c[settings.id_column].in_(chunk)))
    frame = _as_frame(rows, settings)
    return frame.sort_values(["labeled_at", "id"], ignore_index=True)


def content_hash(frame: pd.DataFrame) -> str:
    """A sha256 over (id, label, text) of a frame's rows, in id order."""
    digest = hashlib.sha256()
    for row_id, label, text in frame.sort_values("id")[["id", "label", "text"]].itertuples(index=False):
        digest.update(f"{int(row_id)}\x1f{label}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def existing_labels(engine: sa.Engine, settings: Settings, texts: Sequence[str]) -> dict[str, dict[str, int]]:
    """Which of ``texts`` are already stored: text -> label -> the id of the first stored row with it."""
    table = _require_columns(engine, settings)
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
    table = _require_columns(engine, settings)
    text_col, id_col = table.c[settings.text_column], table.c[settings.id_column]
    found: dict[str, int] = {}
    unique = list(dict.fromkeys(texts))
    with engine.connect() as conn:
        for start in range(0, len(unique), IN_CHUNK):
            chunk = unique[start:start + IN_CHUNK]
            for text, row_id in conn.execute(sa.select(text_col, id_col).where(text_col.in_(chunk))):
                found.setdefault(text, int(row_id))
    return found
