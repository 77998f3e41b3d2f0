"""The consumption ledger: which labeled rows each model version consumed, and in which role.

A version's entries are written in the transaction that registers it (``models.registry``), so a
version and what it consumed exist together or not at all. The rule every pull follows:

    a row is waiting until a version that consumed it (trained on it, or held it out) is the
    champion or one of the champion's ancestors, unless a data check quarantined it.

Rejected challengers, rollbacks, released rows, late rows and edited timestamps all fall out of it:
none of them needs a special case. A row used only to pick the best epoch (early stopping) is not
consumed: it waits, and the next run trains on it (``prior_role`` keeps it out of early stopping).

>>> import sqlalchemy as sa
>>> engine = sa.create_engine("sqlite://"); create_ledger_schema(engine)
>>> with engine.begin() as conn:
...     record_consumption(conn, "labeled_examples", 1, {TRAINED: [1, 2], HELD_OUT: [3]})
3
>>> consumed_by(engine, "labeled_examples", [1])
{1: 'trained', 2: 'trained', 3: 'held_out'}
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

TRAINED, EARLY_STOPPING, HELD_OUT, REPLAY = "trained", "early_stopping", "held_out", "replay"
ROLES = (TRAINED, EARLY_STOPPING, HELD_OUT, REPLAY)
# Roles after which a row no longer waits for the lineage that holds them.
CONSUMING_ROLES = (TRAINED, HELD_OUT, REPLAY)

_metadata = sa.MetaData()

ledger_table = sa.Table(
    "retrain_ledger", _metadata,
    sa.Column("source_table", sa.String(200), primary_key=True),  # settings.table: one database, many tables
    sa.Column("row_id", sa.BigInteger, primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    # The primary key serves the pull's anti-join (source_table, row_id); this one a version's own rows.
    sa.Index("ix_retrain_ledger_version", "source_table", "version"),
)


@dataclass(frozen=True, order=True)
class Watermark:
    """A position in the labeled stream: rows sort by (labeled_at, id). Since the ledger decides what
    waits, the champion's watermark is only an index hint: the pull seeks past it, and a second,
    reconciling query finds what lies behind it unconsumed (late rows, edits, rollbacks, releases)."""

    labeled_at: datetime
    id: int


@dataclass(frozen=True)
class Lineage:
    """The champion and its ancestors, newest first; empty before the first champion."""

    versions: tuple[int, ...] = ()
    watermark: Watermark | None = None  # the champion's: the furthest position its lineage consumed

    @property
    def champion(self) -> int | None:
        return self.versions[0] if self.versions else None


NO_CHAMPION = Lineage()


@dataclass(frozen=True)
class Consumption:
    """What one version consumed: row ids by role, from one table, split with one held-out fraction."""

    source_table: str
    rows: Mapping[str, tuple[int, ...]]
    test_fraction: float

    def count(self, *roles: str) -> int:
        """How many rows it consumed in these roles (every role when none is named)."""
        return sum(len(ids) for role, ids in self.rows.items() if not roles or role in roles)


def create_ledger_schema(engine: sa.Engine) -> None:
    """Create the ledger table if it does not exist."""
    _metadata.create_all(engine, checkfirst=True)


def record_consumption(
    conn: sa.Connection, source_table: str, version: int, rows: Mapping[str, Iterable[int]]
) -> int:
    """Record in ``conn``'s transaction that ``version`` consumed these rows (role -> ids); returns how many."""
    unknown = set(rows) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown ledger role(s) {sorted(unknown)}; roles are {list(ROLES)}")
    entries, seen = [], set()
    for role, ids in rows.items():
        for row_id in ids:
            if int(row_id) in seen:
                raise ValueError(f"row {row_id} is given two roles for version {version}")
            seen.add(int(row_id))
            entries.append({"source_table": source_table, "row_id": int(row_id), "version": int(version), "role": role})
    if entries:
        conn.execute(ledger_table.insert(), entries)
    return len(entries)


def consumed_by(engine: sa.Engine, source_table: str, versions: Collection[int]) -> dict[int, str]:
    """Every row these versions consumed (early-stopping rows too), with its role: row id -> role."""
    if not versions:
        return {}
    t = ledger_table
    query = sa.select(t.c.row_id, t.c.role).where(t.c.source_table == source_table,
                                                  t.c.version.in_([int(v) for v in versions]))
    with engine.connect() as conn:
        return {int(row_id): role for row_id, role in conn.execute(query)}


def consumed_clause(id_column: sa.ColumnElement, source_table: str, lineage: Lineage) -> sa.ColumnElement[bool]:
    """SQL: the row with ``id_column`` was consumed by the lineage (trained on or held out)."""
    if not lineage.versions:
        return sa.false()
    t = ledger_table
    return sa.exists().where(t.c.source_table == source_table, t.c.row_id == id_column,
                             t.c.version.in_(lineage.versions), t.c.role.in_(CONSUMING_ROLES))


def prior_role(id_column: sa.ColumnElement, source_table: str) -> sa.ScalarSelect:
    """SQL: a role any version ever gave the row (None if none did). A row keeps its split forever:
    held out once, never trained; trained once, never held out."""
    t = ledger_table
    return (sa.select(sa.func.max(t.c.role))
            .where(t.c.source_table == source_table, t.c.row_id == id_column).scalar_subquery())


def counts_by_version(engine: sa.Engine, source_table: str) -> dict[int, dict[str, int]]:
    """How many rows each version consumed, per role (for `retrain history -v`)."""
    t = ledger_table
    query = (sa.select(t.c.version, t.c.role, sa.func.count()).where(t.c.source_table == source_table)
             .group_by(t.c.version, t.c.role))
    counts: dict[int, dict[str, int]] = {}
    with engine.connect() as conn:
        for version, role, n in conn.execute(query):
            counts.setdefault(int(version), {})[role] = int(n)
    return counts
