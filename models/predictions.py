"""The predictions cache: what each version predicted for each held-out text.

The held-out set grows every week, so a run scores the champion only on held-out rows it has no
recorded prediction for; a promoted challenger's predictions from its own run are already here.
Keyed by the text, not the row id: the prediction depends on nothing else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from data.sql import IN_CHUNK, insert_or_ignore
from models.registry_tables import predictions_table


def text_key(text: str) -> str:
    """The key a text's cached prediction is stored under.

    >>> text_key("hello")[:12]
    '2cf24dba5fb0'
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def cached_predictions(engine: sa.Engine, version: int, text_keys: Iterable[str]) -> dict[str, str]:
    """The labels ``version`` predicted earlier for any of these texts (by ``text_key``)."""
    wanted = list(dict.fromkeys(text_keys))
    found: dict[str, str] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), IN_CHUNK):
            rows = conn.execute(sa.select(predictions_table.c.text_sha256, predictions_table.c.label).where(
                predictions_table.c.version == version,
                predictions_table.c.text_sha256.in_(wanted[start:start + IN_CHUNK])))
            found.update({key: label for key, label in rows})
    return found


def record_predictions(engine: sa.Engine, version: int, predictions: Mapping[str, str]) -> int:
    """Remember what ``version`` predicted for these texts (``text_key`` -> label); return rows added.

    Insert-or-ignore: two runs scoring the same champion at once record the same facts, and neither fails.
    """
    known = cached_predictions(engine, version, predictions)
    fresh = [{"version": version, "text_sha256": key, "label": label}
             for key, label in predictions.items() if key not in known]
    with engine.begin() as conn:
        insert_or_ignore(conn, predictions_table, fresh)
    return len(fresh)
