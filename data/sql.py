"""SQL building blocks every retrain table shares: the id type, naive UTC times, bounded IN lists,
and an insert that two runs can both make.

>>> import sqlalchemy as sa
>>> engine = sa.create_engine("sqlite://")
>>> facts = sa.Table("facts", sa.MetaData(), sa.Column("key", sa.String, primary_key=True))
>>> facts.metadata.create_all(engine)
>>> with engine.begin() as conn:
...     insert_or_ignore(conn, facts, [{"key": "a"}]); insert_or_ignore(conn, facts, [{"key": "a"}, {"key": "b"}])
>>> with engine.connect() as conn:
...     sorted(conn.execute(sa.select(facts.c.key)).scalars())
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

IN_CHUNK = 500  # bound parameters per IN (...) query; SQLite allows 32766, PG 65535
# Row ids and version numbers: 64-bit, except in SQLite, where only INTEGER PRIMARY KEY autoincrements.
ID_TYPE = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def utcnow() -> datetime:
    """Naive UTC now: the store keeps naive UTC timestamps so SQLite and PostgreSQL agree."""
    return datetime.now(UTC).replace(tzinfo=None)


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
