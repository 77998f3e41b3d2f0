"""What every command opens: the settings, with the label set fixed in the database, and the database."""

from __future__ import annotations

import sqlalchemy as sa

from data.labels import with_fixed_labels
from data.settings import Settings
from data.store import connect, create_schema, require_bookkeeping
from models.registry import create_registry_schema, require_registry


def load_settings() -> Settings:
    """The RETRAIN_ settings with the label set fixed in the database (RETRAIN_LABELS only checks it)."""
    return with_fixed_labels(Settings())


def writable_engine(settings: Settings) -> sa.Engine:
    """The database for commands that write (init, import): its tables are created if missing."""
    engine = connect(settings)
    create_schema(engine, settings)
    create_registry_schema(engine)
    return engine


def existing_engine(settings: Settings) -> sa.Engine:
    """The database for every other command: never created here. A missing database or table is an
    error that names where it looked (a mistyped RETRAIN_TABLE or another folder's RETRAIN_HOME)."""
    engine = connect(settings, must_exist=True)
    require_registry(engine)
    require_bookkeeping(engine)
    return engine
