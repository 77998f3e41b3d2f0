"""The label set, fixed once per database: the first import (or ``retrain init --labels``) fixes it,
and every later command, ``retrain serve`` and each worker read it from the database.

``RETRAIN_LABELS`` is then only a check: a process that sets it to another list gets an error naming
both, instead of training (or importing) against a label set the database's rows and champion do
not share. Everything above this floor reads ``settings.labels`` as before; only the places that
build the settings (the CLI, the flow) call :func:`with_fixed_labels`.

>>> import sqlalchemy as sa
>>> from data.settings import Settings
>>> engine = sa.create_engine("sqlite://")
>>> with_fixed_labels(Settings(), engine).labels  # nothing fixed: the setting (here its default)
['negative', 'positive']
>>> fix_labels(engine, Settings(), ["sport", "business", "tech"]).labels
['sport', 'business', 'tech']
>>> with_fixed_labels(Settings(), engine).labels  # RETRAIN_LABELS unset: the database's
['sport', 'business', 'tech']
>>> with_fixed_labels(Settings(labels=["a", "b"]), engine)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
data.labels.LabelSetMismatch: RETRAIN_LABELS ['a', 'b'] differ from the label set fixed in this database ['sport'...
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from data.meta import FixedFactMismatch, fix_once, read_fact
from data.settings import Settings
from data.store import MissingDatabase, connect

LABELS_FACT = "labels"


class LabelSetMismatch(ValueError):
    """RETRAIN_LABELS (or ``--labels``) names another label set than the one fixed in the database."""


def fixed_labels(engine: sa.Engine) -> list[str] | None:
    """The label set fixed in this database, or None when nothing fixed it yet."""
    labels = read_fact(engine, LABELS_FACT)
    return None if labels is None else list(labels)


def labels_given(settings: Settings) -> bool:
    """Whether the label set was set explicitly (RETRAIN_LABELS, or a keyword), not the default."""
    return "labels" in settings.model_fields_set


def _mismatch(given: list[str], fixed: list[str], given_as: str = "RETRAIN_LABELS") -> LabelSetMismatch:
    return LabelSetMismatch(
        f"{given_as} {given} differ from the label set fixed in this database {fixed}; unset "
        "RETRAIN_LABELS (the database's set is used) or point RETRAIN_DATABASE_URL / RETRAIN_HOME at another "
        "database"
    )


def with_fixed_labels(settings: Settings, engine: sa.Engine | None = None) -> Settings:
    """The settings with ``labels`` read from the database (when one is fixed there).

    Raises :class:`LabelSetMismatch` when ``RETRAIN_LABELS`` is set to another list (order counts:
    it is the class-index order of every model version).
    """
    if engine is None:
        try:
            engine = connect(settings, must_exist=True)  # reading the labels never creates a database
        except MissingDatabase:
            return settings
    fixed = fixed_labels(engine)
    if fixed is None:
        return settings
    if labels_given(settings) and settings.labels != fixed:
        raise _mismatch(settings.labels, fixed)
    return settings.with_overrides(labels=fixed)


def fix_labels(
    engine: sa.Engine, settings: Settings, labels: Iterable[str], given_as: str = "RETRAIN_LABELS"
) -> Settings:
    """Fix the database's label set to ``labels`` (validated as RETRAIN_LABELS is) unless one is fixed;
    returns the settings carrying it. Raises :class:`LabelSetMismatch` if another set is fixed already."""
    chosen = settings.with_overrides(labels=list(labels)).labels  # distinct, non-empty, at least two
    try:
        fix_once(engine, LABELS_FACT, chosen)
    except FixedFactMismatch as error:
        raise _mismatch(chosen, error.fixed, given_as) from error
    return settings.with_overrides(labels=chosen)
