"""Facts fixed once for a database: values every command, `retrain serve` and each worker read
from the database rather than from their own environment (the label set, the held-out fraction).

A fact is written once, by the first command that needs it, and never silently changed: a later
caller that brings another value gets :class:`FixedFactMismatch`, which names both values.

>>> import sqlalchemy as sa
>>> engine = sa.create_engine("sqlite://"); create_meta_schema(engine)
>>> fix_once(engine, "test_fraction", 0.2)
0.2
>>> fix_once(engine, "test_fraction", 0.2), read_fact(engine, "test_fraction")
(0.2, 0.2)
>>> fix_once(engine, "test_fraction", 0.3)
Traceback (most recent call last):
...
data.meta.FixedFactMismatch: test_fraction is fixed to 0.2 in this database; got 0.3
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

_metadata = sa.MetaData()

meta_table = sa.Table(
    "retrain_meta", _metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # JSON
)


class FixedFactMismatch(ValueError):
    """A caller brought a value that differs from the one fixed in the database."""

    def __init__(self, key: str, fixed: Any, given: Any, hint: str = "") -> None:
        self.key, self.fixed, self.given = key, fixed, given
        super().__init__(f"{key} is fixed to {fixed!r} in this database; got {given!r}{hint}")


def create_meta_schema(engine: sa.Engine) -> None:
    """Create the facts table if it does not exist."""
    _metadata.create_all(engine, checkfirst=True)


def has_meta_schema(engine: sa.Engine) -> bool:
    """Whether the facts table exists (read-only commands never create it)."""
    return sa.inspect(engine).has_table(meta_table.name)


def read_fact(engine: sa.Engine, key: str, conn: sa.Connection | None = None) -> Any | None:
    """The value fixed under ``key``, or None when nothing is fixed (or the table does not exist)."""
    query = sa.select(meta_table.c.value).where(meta_table.c.key == key)
    if conn is not None:
        raw = conn.execute(query).scalar_one_or_none()
    else:
        if not has_meta_schema(engine):
            return None
        with engine.connect() as own:
            raw = own.execute(query).scalar_one_or_none()
    return None if raw is None else json.loads(raw)


def fix_once(engine: sa.Engine, key: str, value: Any, conn: sa.Connection | None = None, hint: str = "") -> Any:
    """Fix ``key`` to ``value`` if nothing is fixed yet, and return the fixed value.

    Raises :class:`FixedFactMismatch` when another value is fixed already. With ``conn`` the write
    joins the caller's transaction (so it commits, or not, with what it belongs to).
    """
    if conn is None:
        create_meta_schema(engine)
        with engine.begin() as own:
            return fix_once(engine, key, value, own, hint)
    fixed = read_fact(engine, key, conn)
    if fixed is None:
        try:
            with conn.begin_nested():  # a concurrent first writer wins; we then compare with its value
                conn.execute(meta_table.insert().values(key=key, value=json.dumps(value)))
            return value
        except sa.exc.IntegrityError:
            fixed = read_fact(engine, key, conn)
    if fixed != value:
        raise FixedFactMismatch(key, fixed, value, hint)
    return fixed
