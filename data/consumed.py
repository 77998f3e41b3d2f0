"""The champion's data: the rows its lineage consumed, read back through the ledger.

What a new batch is compared with (duplicates, held-out leakage, label drift), what replay samples
from, and what the TF-IDF baseline trains on beside the new rows. Replay and the baseline read
only what they use (the pool's ids and strata, the newest rows), not every text the lineage consumed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pandas as pd
import sqlalchemy as sa

from data.ledger import CONSUMING_ROLES, NO_CHAMPION, REPLAY, TRAINED, Lineage, ledger_table
from data.rows import rows_frame, selected_columns
from data.settings import Settings
from data.sql import IN_CHUNK
from data.store import require_table

TRAINING_ROLES = (TRAINED, REPLAY)


def consumed_ids(settings: Settings, lineage: Lineage, roles: Sequence[str]) -> sa.Subquery:
    """The distinct ids of the rows ``lineage``'s versions recorded with one of ``roles``: a subquery to join."""
    t = ledger_table
    return (sa.select(t.c.row_id).where(t.c.source_table == settings.table, t.c.version.in_(lineage.versions),
                                        t.c.role.in_(roles)).distinct().subquery())


def lineage_rows(
    engine: sa.Engine, settings: Settings, lineage: Lineage, roles: Sequence[str], newest: int | None = None,
    ids: Collection[int] | None = None,
) -> pd.DataFrame:
    """The rows ``lineage``'s versions recorded in the ledger with one of ``roles``, in id order.

    ``newest``: only the newest that many by (labeled_at, id); ``ids``: only these rows.
    """
    table = require_table(engine, settings)
    if not lineage.versions or newest == 0 or (ids is not None and not ids):
        return rows_frame([], settings)
    row_id, labeled_at = table.c[settings.id_column], table.c[settings.labeled_at_column]
    consumed = consumed_ids(settings, lineage, roles)
    query = sa.select(*selected_columns(table, settings)).join_from(table, consumed, consumed.c.row_id == row_id)
    if newest is not None:
        query = query.order_by(labeled_at.desc(), row_id.desc()).limit(newest)
    wanted = sorted(int(i) for i in ids) if ids is not None else None
    with engine.connect() as conn:
        if wanted is None:
            rows = conn.execute(query).all()
        else:
            rows = [row for start in range(0, len(wanted), IN_CHUNK)
                    for row in conn.execute(query.where(row_id.in_(wanted[start:start + IN_CHUNK])))]
        return rows_frame(rows, settings).sort_values("id", ignore_index=True)


def lineage_strata(engine: sa.Engine, settings: Settings, lineage: Lineage, roles: Sequence[str]) -> pd.DataFrame:
    """Columns id, label, labeled_at (and source when mapped) of the rows ``lineage`` recorded with one of
    ``roles``, in id order: what a stratified sample is drawn from, without reading a single text."""
    table = require_table(engine, settings)
    columns = ["id", "label", "labeled_at"] + (["source"] if settings.source_column else [])
    if not lineage.versions:
        return pd.DataFrame(columns=columns)
    row_id = table.c[settings.id_column]
    consumed = consumed_ids(settings, lineage, roles)
    selected = [row_id, table.c[settings.label_column], table.c[settings.labeled_at_column]]
    selected += [table.c[settings.source_column]] if settings.source_column else []
    query = sa.select(*selected).join_from(table, consumed, consumed.c.row_id == row_id).order_by(row_id)
    with engine.connect() as conn:
        frame = pd.DataFrame([tuple(row) for row in conn.execute(query)], columns=columns)
    frame["id"] = frame["id"].astype("int64")
    if isinstance(frame["labeled_at"].dtype, pd.DatetimeTZDtype):  # as rows_frame: naive UTC
        frame["labeled_at"] = frame["labeled_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def consumed_rows(engine: sa.Engine, settings: Settings, lineage: Lineage | None) -> pd.DataFrame:
    """The champion's data: every row its lineage trained on or held out, in id order.

    What a new batch is compared with for duplicates, held-out leakage and label drift.
    """
    return lineage_rows(engine, settings, lineage or NO_CHAMPION, CONSUMING_ROLES)


def trained_rows(
    engine: sa.Engine, settings: Settings, lineage: Lineage | None, newest: int | None = None,
    ids: Collection[int] | None = None,
) -> pd.DataFrame:
    """The rows the champion's lineage trained on (replayed ones too), in id order: what replay samples
    from, and what a from-scratch baseline trains on beside the new rows (``newest``, ``ids``: as
    ``lineage_rows``)."""
    return lineage_rows(engine, settings, lineage or NO_CHAMPION, TRAINING_ROLES, newest=newest, ids=ids)


def trained_strata(engine: sa.Engine, settings: Settings, lineage: Lineage | None) -> pd.DataFrame:
    """``lineage_strata`` of the rows the champion's lineage trained on: replay's pool."""
    return lineage_strata(engine, settings, lineage or NO_CHAMPION, TRAINING_ROLES)
