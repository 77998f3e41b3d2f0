"""Labeled rows as a DataFrame: the columns every query selects and how a result becomes a frame.

The frame's columns are id, text, label, labeled_at (naive UTC), split, prior_role, and confidence
and source when the settings map them. ``split`` is the ledger's where a version consumed the row
(``prior_role``), else the explicit split column, else the hash (``data.split``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from data.ledger import HELD_OUT, prior_role
from data.settings import Settings
from data.split import TEST, TRAIN, BadSplitValue, explicit_split, split_of


def selected_columns(table: sa.Table, settings: Settings) -> list[sa.ColumnElement]:
    """What a query of labeled rows selects, in the order ``rows_frame`` reads."""
    def optional(name: str | None) -> sa.ColumnElement:
        return table.c[name] if name else sa.null()

    return [
        table.c[settings.id_column], table.c[settings.text_column], table.c[settings.label_column],
        table.c[settings.labeled_at_column], optional(settings.split_column), optional(settings.confidence_column),
        optional(settings.source_column), prior_role(table.c[settings.id_column], settings.table),
    ]


def rows_frame(rows: Sequence[sa.Row], settings: Settings) -> pd.DataFrame:
    """The frame of rows selected with ``selected_columns``; a bad explicit split names its rows."""
    frame = pd.DataFrame(
        [tuple(row) for row in rows],
        columns=["id", "text", "label", "labeled_at", "explicit_split", "confidence", "source", "prior_role"],
    )
    frame["id"] = frame["id"].astype("int64")
    if isinstance(frame["labeled_at"].dtype, pd.DatetimeTZDtype):
        # A team's timestamptz column: compared as naive UTC like ours, never aware with naive.
        frame["labeled_at"] = frame["labeled_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    explicit = [explicit_split(value) for value in frame["explicit_split"]]
    bad = [(int(i), raw) for i, raw, word in zip(frame["id"], frame["explicit_split"], explicit, strict=True)
           if word not in (None, TRAIN, TEST)]
    if bad:
        shown = ", ".join(f"row {i}: {raw!r}" for i, raw in bad[:10])
        raise BadSplitValue(
            f"split column {settings.split_column!r} of table {settings.table!r} holds {len(bad)} value(s) that are "
            f"neither 'train' nor 'test' (case and spaces are ignored; empty means the hash decides): {shown}")
    frame["split"] = [
        # The ledger keeps a split once a version consumed the row, whatever the column says now.
        (TEST if role == HELD_OUT else TRAIN) if isinstance(role, str)
        else word or split_of(row_id, settings.test_fraction)
        for row_id, word, role in zip(frame["id"], explicit, frame["prior_role"], strict=True)
    ]
    frame["prior_role"] = frame["prior_role"].astype(object).where(frame["prior_role"].notna(), None)
    dropped = ["explicit_split"] + [name for name, column in (("confidence", settings.confidence_column),
                                                                ("source", settings.source_column)) if not column]
    frame = frame.drop(columns=dropped)
    if settings.confidence_column and pd.api.types.infer_dtype(frame["confidence"], skipna=True) in (
            "floating", "integer", "empty"):
        # NULLs and numbers as float64 with NaN; anything else stays as stored for the type check to name.
        frame["confidence"] = frame["confidence"].astype("float64")
    return frame
