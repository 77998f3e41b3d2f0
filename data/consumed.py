"""The champion's data: the rows its lineage consumed, read back through the ledger.

What a new batch is compared with (duplicates, held-out leakage, label drift), what replay samples
from, and what the TF-IDF baseline trains on beside the new rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from data.ledger import CONSUMING_ROLES, NO_CHAMPION, REPLAY, TRAINED, Lineage, ledger_table
from data.rows import rows_frame, selected_columns
from data.settings import Settings
from data.store import require_table


def lineage_rows(engine: sa.Engine, settings: Settings, lineage: Lineage, roles: Sequence[str]) -> pd.DataFrame:
    """The rows ``lineage``'s versions recorded in the ledger with one of ``roles``, in id order."""
    table = require_table(engine, settings)
    if not lineage.versions:
        return rows_frame([], settings)
    t, row_id = ledger_table, table.c[settings.id_column]
    consumed = (sa.select(t.c.row_id).where(t.c.source_table == settings.table, t.c.version.in_(lineage.versions),
                                            t.c.role.in_(roles)).distinct().subquery())
    query = sa.select(*selected_columns(table, settings)).join_from(table, consumed, consumed.c.row_id == row_id)
    with engine.connect() as conn:
        return rows_frame(conn.execute(query).all(), settings).sort_values("id", ignore_index=True)


def consumed_rows(engine: sa.Engine, settings: Settings, lineage: Lineage | None) -> pd.DataFrame:
    """The champion's data: every row its lineage trained on or held out, in id order.

    What a new batch is compared with for duplicates, held-out leakage and label drift.
    """
    return lineage_rows(engine, settings, lineage or NO_CHAMPION, CONSUMING_ROLES)


def trained_rows(engine: sa.Engine, settings: Settings, lineage: Lineage | None) -> pd.DataFrame:
    """Every row the champion's lineage trained on (replayed ones too), in id order: what replay samples
    from, and what a from-scratch baseline trains on beside the new rows."""
    return lineage_rows(engine, settings, lineage or NO_CHAMPION, [TRAINED, REPLAY])
