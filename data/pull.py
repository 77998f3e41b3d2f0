"""The pull: the rows waiting for the champion's lineage, whatever their timestamps or commit order.

What waits is decided by the consumption ledger (``data.ledger``), not by timestamps: a row waits
until a version of the champion's lineage trained on it or held it out, or a check quarantined it.
The fast part seeks the (labeled_at, id) index past the champion's watermark; the reconciliation
finds the rows behind it that were never consumed (late commits, edited times, released rows).

>>> from data.settings import Settings
>>> from data.store import NewExample, connect, create_schema, insert_examples
>>> s = Settings(database_url="sqlite://", table="doc_store")
>>> engine = connect(s); create_schema(engine, s)
>>> ids = insert_examples(engine, s, [NewExample("great film", "positive")])
>>> pull_new_rows(engine, s).frame["text"].tolist()
['great film']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from data.ledger import (
    EARLY_STOPPING,
    HELD_OUT,
    NO_CHAMPION,
    REPLAY,
    TRAINED,
    Consumption,
    Lineage,
    Watermark,
    consumed_clause,
)
from data.quarantine_table import quarantined_clause
from data.rows import rows_frame, selected_columns
from data.settings import Settings
from data.split import TEST, TRAIN
from data.store import require_table


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
class WaitingCounts:
    """Rows waiting for the next run: past the champion's watermark, and behind it (never consumed)."""

    past: int
    behind: int

    @property
    def total(self) -> int:
        return self.past + self.behind


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
    return sa.and_(~consumed_clause(row_id, settings.table, lineage), ~quarantined_clause(row_id, settings))


def pull_query(table: sa.Table, settings: Settings, lineage: Lineage, behind: bool = False) -> sa.Select:
    """The rows waiting for ``lineage``: past its watermark (``behind=False``: an index seek on
    (labeled_at, id), then an anti-join against the ledger and the quarantine), or behind it (the
    reconciliation: rows never consumed that a timestamp order would have skipped)."""
    query = (sa.select(*selected_columns(table, settings)).where(_waiting_clause(table, settings, lineage))
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
    frame = rows_frame([*behind, *past], settings)
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
