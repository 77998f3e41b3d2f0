"""The store: the labeled-examples table (ours or a team's, mapped by the settings) and retrain's own
tables, the connection, and the inserts and lookups the importer and the checks use.

Every query uses bound parameters. Which rows wait for a run is the pull's (``data.pull``); which
are held out is ``data.split``'s and ``data.held_out``'s.

>>> from data.settings import Settings
>>> s = Settings(database_url="sqlite://", table="film_reviews")
>>> engine = connect(s); create_schema(engine, s)
>>> insert_examples(engine, s, [NewExample("great film", "positive")]), count_rows(engine, s)
([1], 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from data import meta
from data.ledger import create_ledger_schema, ledger_table
from data.quarantine_table import create_quarantine_schema, quarantine_table
from data.settings import Settings
from data.sql import ID_TYPE, IN_CHUNK, utcnow


class MissingDatabase(LookupError):
    """A read-only command found no database where the settings point."""


@dataclass(frozen=True)
class NewExample:
    """A labeled row to insert."""

    text: str
    label: str
    labeled_at: datetime | None = None
    source: str | None = None
    confidence: float | None = None
    split: str | None = None


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


def require_bookkeeping(engine: sa.Engine) -> None:
    """Refuse a database whose retrain tables were never created (read-only commands create nothing)."""
    inspector = sa.inspect(engine)
    missing = [t.name for t in (quarantine_table, ledger_table, meta.meta_table) if not inspector.has_table(t.name)]
    if missing:
        raise LookupError(f"{engine.url.render_as_string(hide_password=True)} has no {', '.join(missing)} table: "
                          "run `retrain init` to create retrain's tables")


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


def count_rows(engine: sa.Engine, settings: Settings) -> int:
    """How many labeled rows the table holds."""
    table = require_table(engine, settings)
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


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
    """Which of ``texts`` are already stored, mapped to the id of the first stored row with it."""
    return {text: min(by_label.values()) for text, by_label in existing_labels(engine, settings, texts).items()}
