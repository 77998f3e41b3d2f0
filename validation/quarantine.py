"""The quarantine: rows that failed a row-level data check, kept out of training and of the held-out
set until a person releases them. Labeled rows are never deleted or modified; the quarantine lives
in its own table (``data.store.quarantine_table``), so it works for a team's mapped table too.

A released row waits like any row the champion's lineage has not consumed (``data.ledger``): the
next pull takes it, wherever its timestamp lies, and keeps taking it until a version that trained on
it is the champion or one of its ancestors. A row quarantined again by another check stays out until
released again.

>>> from data.settings import Settings
>>> from data.store import NewExample, connect, create_schema, insert_examples
>>> from validation.report import FlaggedRow
>>> s = Settings(database_url="sqlite://", table="doc_quarantine"); e = connect(s); create_schema(e, s)
>>> [row] = insert_examples(e, s, [NewExample("donâ€™t Ã©Ã©", "negative")])
>>> quarantine_rows(e, s, [FlaggedRow(row, (("encoding_garbage", "67% garbage"),))])
1
>>> [(q.row_id, q.check_name, q.active) for q in list_entries(e, s)]
[(1, 'encoding_garbage', True)]
>>> release(e, s, [row, 99], by="ana").released, release(e, s, [99], by="ana").unknown
({1: ('encoding_garbage',)}, (99,))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from data.quarantine_table import create_quarantine_schema, quarantine_table
from data.settings import Settings
from data.sql import IN_CHUNK, utcnow
from data.store import require_table
from validation.checks import HARD_CHECKS
from validation.report import FlaggedRow


@dataclass(frozen=True)
class QuarantineEntry:
    """One (row, check) quarantine entry, with the row's text and label for a person to judge."""

    entry_id: int
    row_id: int
    check_name: str
    reason: str
    quarantined_at: datetime
    flow_run: str | None
    released_at: datetime | None
    released_by: str | None
    text: str | None
    label: str | None

    @property
    def active(self) -> bool:
        """Still quarantined (not released)."""
        return self.released_at is None


@dataclass(frozen=True)
class ReleaseResult:
    """What a release did: the checks each row was released from, and ids with nothing to release."""

    released: dict[int, tuple[str, ...]]
    unknown: tuple[int, ...]

    def will_be_quarantined_again(self) -> dict[int, tuple[str, ...]]:
        """Released rows that failed a check no release exempts from (a blank text, an unknown label...):
        they are quarantined again by the next run unless the row itself is fixed."""
        hard = {row: tuple(c for c in checks if c in HARD_CHECKS) for row, checks in self.released.items()}
        return {row: checks for row, checks in hard.items() if checks}


def _require_quarantine(engine: sa.Engine) -> None:
    if not sa.inspect(engine).has_table(quarantine_table.name):
        raise LookupError(f"{engine.url.render_as_string(hide_password=True)} has no {quarantine_table.name} table: "
                          "run `retrain init` to create retrain's tables")


def quarantine_rows(
    engine: sa.Engine, settings: Settings, flagged: Iterable[FlaggedRow], flow_run: str | None = None
) -> int:
    """Quarantine rows, one entry per failed check, in one transaction; returns the number of rows."""
    create_quarantine_schema(engine)
    now = utcnow()
    entries = [
        {"source_table": settings.table, "row_id": int(row.row_id), "check_name": check, "reason": reason,
         "quarantined_at": now, "flow_run": flow_run}
        for row in flagged for check, reason in row.reasons
    ]
    if entries:
        with engine.begin() as conn:
            conn.execute(quarantine_table.insert(), entries)
    return len({entry["row_id"] for entry in entries})


def list_entries(
    engine: sa.Engine, settings: Settings, include_released: bool = False, check: str | None = None,
    limit: int | None = None,
) -> list[QuarantineEntry]:
    """Quarantine entries, newest first: active ones, or every one with ``include_released``."""
    q, table = quarantine_table, require_table(engine, settings)
    query = (
        sa.select(q.c.id, q.c.row_id, q.c.check_name, q.c.reason, q.c.quarantined_at, q.c.flow_run,
                  q.c.released_at, q.c.released_by, table.c[settings.text_column], table.c[settings.label_column])
        .select_from(q.outerjoin(table, table.c[settings.id_column] == q.c.row_id))
        .where(q.c.source_table == settings.table)
        .order_by(q.c.quarantined_at.desc(), q.c.row_id, q.c.id)
    )
    if not include_released:
        query = query.where(q.c.released_at.is_(None))
    if check:
        query = query.where(q.c.check_name == check)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [QuarantineEntry(int(r[0]), int(r[1]), *r[2:]) for r in conn.execute(query)]


def release(engine: sa.Engine, settings: Settings, row_ids: Sequence[int], by: str) -> ReleaseResult:
    """Release rows from quarantine: their active entries are marked released (never deleted), and the
    next run pulls them again and no longer quarantines them for those checks."""
    require_table(engine, settings)
    q, now = quarantine_table, utcnow()
    wanted = list(dict.fromkeys(int(i) for i in row_ids))
    released: dict[int, list[str]] = {}
    with engine.begin() as conn:
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start:start + IN_CHUNK]
            active = (q.c.source_table == settings.table) & q.c.row_id.in_(chunk) & q.c.released_at.is_(None)
            for row_id, check in conn.execute(sa.select(q.c.row_id, q.c.check_name).where(active)):
                released.setdefault(int(row_id), []).append(check)
            conn.execute(q.update().where(active).values(released_at=now, released_by=by))
    return ReleaseResult(released={row: tuple(checks) for row, checks in released.items()},
                         unknown=tuple(i for i in wanted if i not in released))


def released_checks(engine: sa.Engine, settings: Settings, row_ids: Iterable[int]) -> dict[int, set[str]]:
    """For rows a person released, the checks they were released from (a check then does not
    quarantine the row again)."""
    if not sa.inspect(engine).has_table(quarantine_table.name):
        return {}
    q = quarantine_table
    wanted = {int(i) for i in row_ids}
    # Released entries are few next to a batch (which may hold a million rows): read them all once
    # rather than asking about every row of the batch.
    query = sa.select(q.c.row_id, q.c.check_name).where(q.c.source_table == settings.table,
                                                        q.c.released_at.is_not(None))
    found: dict[int, set[str]] = {}
    with engine.connect() as conn:
        for row_id, check in conn.execute(query):
            if int(row_id) in wanted:
                found.setdefault(int(row_id), set()).add(check)
    return found


def counts_by_check(engine: sa.Engine, settings: Settings, flow_run: str | None = None) -> dict[str, int]:
    """Active entries per check (of one flow run, if given), most first."""
    _require_quarantine(engine)
    q = quarantine_table
    query = (sa.select(q.c.check_name, sa.func.count()).where(q.c.source_table == settings.table,
                                                               q.c.released_at.is_(None))
             .group_by(q.c.check_name))
    if flow_run is not None:
        query = query.where(q.c.flow_run == flow_run)
    with engine.connect() as conn:
        counts = {check: int(n) for check, n in conn.execute(query)}
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
