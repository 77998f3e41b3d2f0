"""The quarantine table: rows a row-level data check held back, until a person releases them.

Rows are quarantined in a table of our own, never by touching the labeled rows: a team's mapped
table keeps its schema, and nothing labeled is ever deleted. One entry per (row, check); an entry
is active until a person releases it. The operations (quarantine, list, release) live in
``validation.quarantine``; the pull and the held-out set only need to leave active entries out.
"""

from __future__ import annotations

import sqlalchemy as sa

from data.settings import Settings
from data.sql import ID_TYPE

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


def quarantined_ids(engine: sa.Engine, settings: Settings) -> set[int]:
    """Ids of the rows with an active (unreleased) quarantine entry; none before the table exists."""
    if not sa.inspect(engine).has_table(quarantine_table.name):
        return set()
    q = quarantine_table
    query = sa.select(q.c.row_id).where(q.c.source_table == settings.table, q.c.released_at.is_(None)).distinct()
    with engine.connect() as conn:
        return {int(row_id) for row_id in conn.execute(query).scalars()}


def quarantined_clause(id_column: sa.ColumnElement, settings: Settings) -> sa.ColumnElement[bool]:
    """True where the row ``id_column`` names has an active quarantine entry (for anti-joins)."""
    q = quarantine_table
    return sa.exists().where(q.c.source_table == settings.table, q.c.row_id == id_column, q.c.released_at.is_(None))
