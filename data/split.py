"""Which rows are held out: a row's split is decided once and kept.

A hash of the row's id against the test fraction (fixed with the first version, so raising
``RETRAIN_TEST_FRACTION`` cannot move trained rows into the held-out set), or an explicit split
column (``train``/``test``, case and spaces ignored). Once a version consumed a row, the ledger
keeps its split whatever the column says later (``data.rows``).

>>> split_of(1, 0.2), explicit_split(" TEST "), explicit_split("")
('train', 'test', None)
"""

from __future__ import annotations

import hashlib
import math

import sqlalchemy as sa

from data import meta
from data.settings import Settings

TRAIN, TEST = "train", "test"
TEST_FRACTION_FACT = "test_fraction"


class BadSplitValue(ValueError):
    """An explicit split column holds a value that is neither train nor test."""


def split_of(row_id: int, test_fraction: float) -> str:
    """The split a row belongs to, forever: a hash of its id against the test fraction.

    >>> split_of(1, 0.2), split_of(1, 0.2) == split_of(1, 0.2)
    ('train', True)
    """
    digest = hashlib.sha256(str(int(row_id)).encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return TEST if position < test_fraction else TRAIN


def explicit_split(value: object) -> str | None:
    """A split column's value, normalised (case, spaces); None when empty (the hash decides)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    word = str(value).strip().lower()
    return word or None


def fixed_test_fraction(engine: sa.Engine, settings: Settings) -> float:
    """The held-out fraction of this database: the one fixed with the first version, else the setting.

    Raises ``meta.FixedFactMismatch`` when RETRAIN_TEST_FRACTION differs from the fixed one: a new
    fraction would move rows the champion trained on into the held-out set.
    """
    fixed = meta.read_fact(engine, TEST_FRACTION_FACT)
    if fixed is not None and not math.isclose(fixed, settings.test_fraction):
        raise meta.FixedFactMismatch(
            "RETRAIN_TEST_FRACTION", fixed, settings.test_fraction,
            " (recorded with the first version: changing it would move trained rows into the held-out set;"
            " unset RETRAIN_TEST_FRACTION or use a new database)")
    return settings.test_fraction
