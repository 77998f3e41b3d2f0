"""What the data checks compare a batch with, read from the store: of the rows the champion's lineage
consumed, those whose normalised text (``data.normalise``) is one of the batch's, and aggregates of all of
them, without reading every consumed text.

The consumed rows' normalised texts are kept as 64-bit keys. A row's key is written the first time a run
compares a batch with the lineage that consumed it, so each week keys only the rows consumed since the
week before; a batch then asks SQL for the stored rows that share one of its keys and reads just those.
The label counts and the median length the drift and length checks compare with are aggregates the
database computes (``consumed_summary``). Keys carry the normalisation's ``SCHEME``: bumping it has every
key written again under the new scheme, the old ones ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from data.consumed import consumed_ids, lineage_rows
from data.ledger import CONSUMING_ROLES, Lineage
from data.normalise import SCHEME, normalised_key, normalize_text
from data.settings import Settings
from data.sql import IN_CHUNK, insert_or_ignore
from data.store import require_table

_metadata = sa.MetaData()

keys_table = sa.Table(
    "retrain_normalised_keys", _metadata,
    sa.Column("source_table", sa.String(200), primary_key=True),
    sa.Column("scheme", sa.Integer, primary_key=True),
    sa.Column("row_id", sa.BigInteger, primary_key=True),
    sa.Column("key", sa.BigInteger, nullable=True),  # NULL: the row has no text
    sa.Index("ix_retrain_normalised_keys_key", "source_table", "scheme", "key"),
)


def key_of(text: object) -> int | None:
    """The key of a stored text (None for a row without one)."""
    return None if text is None or (isinstance(text, float) and pd.isna(text)) else normalised_key(
        normalize_text(str(text)))


def create_keys_schema(engine: sa.Engine) -> None:
    """Create the keys table if it does not exist."""
    _metadata.create_all(engine, checkfirst=True)


def has_keys(engine: sa.Engine) -> bool:
    """Whether the keys table exists: the first check that may write creates it."""
    return sa.inspect(engine).has_table(keys_table.name)


def unkeyed_rows(engine: sa.Engine, settings: Settings, lineage: Lineage) -> pd.DataFrame:
    """Columns row_id and key of the rows ``lineage`` consumed that have no key under ``SCHEME`` yet,
    keyed now (their texts are the only ones read)."""
    table = require_table(engine, settings)
    row_id, k = table.c[settings.id_column], keys_table.c
    consumed = consumed_ids(settings, lineage, CONSUMING_ROLES)
    query = sa.select(row_id, table.c[settings.text_column]).join_from(table, consumed, consumed.c.row_id == row_id)
    if has_keys(engine):  # else nothing is keyed yet (and a dry run must not create the table)
        query = (query.outerjoin(keys_table, sa.and_(k.source_table == settings.table, k.scheme == SCHEME,
                                                     k.row_id == row_id))
                 .where(k.row_id.is_(None)))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    # Object dtype: a None among the keys would make a numeric column float64 and round the 64-bit keys.
    return pd.DataFrame({"row_id": pd.Series([int(i) for i, _ in rows], dtype="int64"),
                         "key": pd.Series([key_of(text) for _, text in rows], dtype=object)})


def record_keys(engine: sa.Engine, settings: Settings, keyed: pd.DataFrame) -> int:
    """Store ``unkeyed_rows``'s keys (insert-or-ignore: two runs may key the same rows); how many were given."""
    rows = [{"source_table": settings.table, "scheme": SCHEME, "row_id": int(i),
             "key": key} for i, key in zip(keyed["row_id"], keyed["key"], strict=True)]
    create_keys_schema(engine)
    with engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            insert_or_ignore(conn, keys_table, rows[start:start + 10_000])
    return len(rows)


def matching_rows(
    engine: sa.Engine, settings: Settings, lineage: Lineage, texts: Iterable[str], write: bool = True
) -> pd.DataFrame:
    """The rows ``lineage`` consumed whose normalised text has the key of one of ``texts``, as
    ``lineage_rows`` reads them (id order). Keys the lineage's newest rows first (stored unless
    ``write`` is false: a dry run keys them in memory and writes nothing)."""
    if not lineage.versions:
        return lineage_rows(engine, settings, lineage, CONSUMING_ROLES, ids=())
    unkeyed = unkeyed_rows(engine, settings, lineage)
    if write and len(unkeyed):
        record_keys(engine, settings, unkeyed)
    wanted = sorted({normalised_key(normalize_text(text)) for text in texts})
    found = set(unkeyed.loc[unkeyed["key"].isin(wanted), "row_id"].astype(int))
    k = keys_table.c
    # The key index alone: joining each lookup with the lineage's consumed rows had SQLite rebuild them
    # per chunk (325 s for a 1M-row batch); lineage_rows keeps the candidates this lineage consumed.
    query = sa.select(k.row_id).where(k.source_table == settings.table, k.scheme == SCHEME)
    with engine.connect() as conn:
        for start in range(0, len(wanted) if has_keys(engine) else 0, IN_CHUNK):
            found.update(int(i) for i in conn.execute(query.where(k.key.in_(wanted[start:start + IN_CHUNK]))).scalars())
    return lineage_rows(engine, settings, lineage, CONSUMING_ROLES, ids=found)


@dataclass(frozen=True)
class ConsumedSummary:
    """What the drift and length checks compare a batch with: aggregates of every row the lineage consumed."""

    label_counts: dict[str, int]
    median_length: float | None  # of the texts, in characters; None without any


def consumed_summary(engine: sa.Engine, settings: Settings, lineage: Lineage) -> ConsumedSummary:
    """The label counts and the median text length of the rows ``lineage`` consumed, from one SQL
    aggregate (rows per label and length: a few hundred, whatever the table's size)."""
    table = require_table(engine, settings)
    row_id, label, text = (table.c[name] for name in (settings.id_column, settings.label_column, settings.text_column))
    consumed = consumed_ids(settings, lineage, CONSUMING_ROLES)
    length = sa.func.length(text)
    query = (sa.select(label, length, sa.func.count()).join_from(table, consumed, consumed.c.row_id == row_id)
             .group_by(label, length))
    with engine.connect() as conn:
        groups = conn.execute(query).all()
    counts: dict[str, int] = {}
    by_length: dict[int, int] = {}
    for name, chars, count in groups:
        if name is not None:
            counts[str(name)] = counts.get(str(name), 0) + int(count)
        if chars is not None:  # a row without text has no length
            by_length[int(chars)] = by_length.get(int(chars), 0) + int(count)
    return ConsumedSummary(counts, median_of_counts(by_length))


def median_of_counts(by_length: dict[int, int]) -> float | None:
    """The median of values given as value -> how many times, as pandas takes it: the middle value, or
    the mean of the two middle ones; None without any.

    >>> median_of_counts({3: 2, 10: 1}), median_of_counts({3: 1, 10: 1}), median_of_counts({})
    (3.0, 6.5, None)
    """
    total = sum(by_length.values())
    if not total:
        return None
    wanted, middle, seen = sorted({(total - 1) // 2, total // 2}), [], 0
    for value in sorted(by_length):
        seen += by_length[value]
        while wanted and wanted[0] < seen:
            middle.append(value)
            wanted.pop(0)
    return float(sum(middle)) / len(middle)
