"""The model registry: every trained model is a version; "champion" is an alias.

Versions, the champion alias and the promotion history live in SQL tables next to the
labeled data (``models.registry_tables``), so one database backup holds everything. Old
versions are never deleted.
Switching the champion is a compare-and-swap: the switch names the champion it expects to
replace and fails with ``PromotionConflict`` when another promotion got there first. Every
switch is recorded in the promotion history.

>>> from data.settings import Settings
>>> from data.store import connect
>>> engine = connect(Settings(database_url="sqlite://")); create_registry_schema(engine)
>>> champion(engine) is None
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from data import meta
from data.ledger import Consumption, Lineage, Watermark, record_consumption
from data.split import TEST_FRACTION_FACT
from data.sql import utcnow
from models.registry_tables import aliases_table, metadata, promotions_table, versions_table

CHAMPION = "champion"

# A challenger that passed the gate is registered PENDING; the switch of the champion rewrites it to
# PROMOTED in its own transaction, so "promoted" is never recorded for a version that is not champion
# (a run killed in between leaves it pending, and its rows waiting).
PROMOTED, REJECTED, DRY_RUN, PENDING = "promoted", "rejected", "dry-run", "pending"


class PromotionConflict(RuntimeError):
    """The champion changed between reading it and switching it."""


@dataclass(frozen=True)
class NewVersion:
    """A trained model to record, with where it came from and how it scored."""

    base_model: str
    artifact_uri: str
    artifact_sha256: str
    labels: tuple[str, ...]
    sequence_length: int
    window_after: Watermark | None
    window_end: Watermark
    new_rows: int
    train_rows: int
    test_rows: int
    test_set_hash: str
    accuracy: float
    metrics: dict
    decision: str
    reason: str
    triggered_by: str
    parent_version: int | None = None


@dataclass(frozen=True)
class ModelVersion(NewVersion):
    """A recorded version."""

    version: int = 0
    created_at: datetime = field(default_factory=utcnow)

    @property
    def watermark(self) -> Watermark:
        """The last labeled row this model has seen: the next pull starts after it."""
        return self.window_end


@dataclass(frozen=True)
class Promotion:
    """One switch of an alias."""

    alias: str
    from_version: int | None
    to_version: int
    at: datetime
    actor: str
    reason: str


def create_registry_schema(engine: sa.Engine) -> None:
    """Create the registry tables if they do not exist."""
    metadata.create_all(engine, checkfirst=True)


def _watermark(at: datetime | None, row_id: int | None) -> Watermark | None:
    return None if at is None or row_id is None else Watermark(at, int(row_id))


def _version(row: sa.RowMapping) -> ModelVersion:
    return ModelVersion(
        version=int(row["version"]), created_at=row["created_at"],
        parent_version=row["parent_version"], base_model=row["base_model"],
        artifact_uri=row["artifact_uri"], artifact_sha256=row["artifact_sha256"],
        labels=tuple(json.loads(row["labels"])), sequence_length=int(row["sequence_length"]),
        window_after=_watermark(row["window_after_at"], row["window_after_id"]),
        window_end=_watermark(row["window_end_at"], row["window_end_id"]),
        new_rows=int(row["new_rows"]), train_rows=int(row["train_rows"]),
        test_rows=int(row["test_rows"]), test_set_hash=row["test_set_hash"],
        accuracy=float(row["accuracy"]), metrics=json.loads(row["metrics"]),
        decision=row["decision"], reason=row["reason"], triggered_by=row["triggered_by"],
    )


def register_version(engine: sa.Engine, new: NewVersion, consumption: Consumption | None = None) -> ModelVersion:
    """Record a trained model as a new version and return it with its number.

    ``consumption`` (the rows it trained on, held out or used for early stopping) goes into the
    ledger in the same transaction, and the first one fixes the database's held-out fraction: a
    version and what it consumed exist together or not at all. A dry run records none.
    """
    values = {
        "created_at": utcnow(), "parent_version": new.parent_version, "base_model": new.base_model,
        "artifact_uri": new.artifact_uri, "artifact_sha256": new.artifact_sha256,
        "labels": json.dumps(list(new.labels)), "sequence_length": new.sequence_length,
        "window_after_at": new.window_after.labeled_at if new.window_after else None,
        "window_after_id": new.window_after.id if new.window_after else None,
        "window_end_at": new.window_end.labeled_at, "window_end_id": new.window_end.id,
        "new_rows": new.new_rows, "train_rows": new.train_rows, "test_rows": new.test_rows,
        "test_set_hash": new.test_set_hash, "accuracy": new.accuracy,
        "metrics": json.dumps(new.metrics), "decision": new.decision, "reason": new.reason,
        "triggered_by": new.triggered_by,
    }
    with engine.begin() as conn:
        version = int(conn.execute(versions_table.insert().values(**values)).inserted_primary_key[0])
        if consumption is not None:
            meta.fix_once(engine, TEST_FRACTION_FACT, consumption.test_fraction, conn)
            record_consumption(conn, consumption.source_table, version, consumption.rows)
    return get_version(engine, version)


def get_version(engine: sa.Engine, version: int) -> ModelVersion:
    """One version by number."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(versions_table).where(versions_table.c.version == version)
        ).mappings().first()
    if row is None:
        raise LookupError(f"model version {version} does not exist")
    return _version(row)


def list_versions(engine: sa.Engine) -> list[ModelVersion]:
    """Every version, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(versions_table).order_by(versions_table.c.version)).mappings()
        return [_version(row) for row in rows]


def champion_version(engine: sa.Engine, conn: sa.Connection | None = None) -> int | None:
    """The version number the champion alias points at, or None before the first promotion."""
    query = sa.select(aliases_table.c.version).where(aliases_table.c.alias == CHAMPION)
    if conn is not None:
        return conn.execute(query).scalar_one_or_none()
    with engine.connect() as own:
        return own.execute(query).scalar_one_or_none()


def champion(engine: sa.Engine) -> ModelVersion | None:
    """The current champion, or None before the first promotion."""
    version = champion_version(engine)
    return None if version is None else get_version(engine, version)


def switch_champion(
    engine: sa.Engine, to_version: int, expected: int | None, actor: str, reason: str
) -> Promotion:
    """Point the champion at ``to_version`` if it still points at ``expected``.

    The check and the switch happen in one transaction with a conditional UPDATE (or an
    INSERT guarded by the alias' primary key for the first champion), so two runs racing
    to promote cannot both win; the loser gets ``PromotionConflict`` and nothing changes.
    """
    target = get_version(engine, to_version)  # refuse unknown versions before touching the alias
    if target.decision == DRY_RUN:
        raise ValueError(f"version {to_version} is a dry run: it saved no model and cannot be champion")
    now = utcnow()
    try:
        with engine.begin() as conn:
            if expected is None:
                conn.execute(aliases_table.insert().values(alias=CHAMPION, version=to_version,
                                                           updated_at=now))
            else:
                switched = conn.execute(
                    aliases_table.update()
                    .where(aliases_table.c.alias == CHAMPION, aliases_table.c.version == expected)
                    .values(version=to_version, updated_at=now)
                ).rowcount
                if switched != 1:
                    raise PromotionConflict(
                        f"champion is no longer version {expected} (now "
                        f"{champion_version(engine, conn)}): not switching to {to_version}"
                    )
            conn.execute(promotions_table.insert().values(
                alias=CHAMPION, from_version=expected, to_version=to_version, at=now,
                actor=actor, reason=reason))
            conn.execute(versions_table.update()
                         .where(versions_table.c.version == to_version, versions_table.c.decision == PENDING)
                         .values(decision=PROMOTED))
    except sa.exc.IntegrityError as error:
        raise PromotionConflict(
            f"another run promoted a first champion concurrently: not switching to {to_version}"
        ) from error
    return Promotion(CHAMPION, expected, to_version, now, actor, reason)


def set_decision(engine: sa.Engine, version: int, decision: str, reason: str) -> None:
    """Rewrite a version's recorded decision (used when a promotion lost a race)."""
    with engine.begin() as conn:
        conn.execute(versions_table.update().where(versions_table.c.version == version)
                     .values(decision=decision, reason=reason))


def promote_or_reject(engine: sa.Engine, version: ModelVersion, expected: int | None, actor: str) -> Promotion:
    """Switch the champion to a run's challenger; when another run switched it first, record the
    challenger rejected and raise the ``PromotionConflict``."""
    try:
        return switch_champion(engine, version.version, expected, actor, version.reason)
    except PromotionConflict as conflict:
        set_decision(engine, version.version, REJECTED, f"lost a race: {conflict}")
        # Its rows are waiting again: the champion that won did not consume them through this version.
        raise


def promotion_history(engine: sa.Engine) -> list[Promotion]:
    """Every switch of the champion, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(promotions_table).order_by(promotions_table.c.id)).mappings()
        return [Promotion(r["alias"], r["from_version"], int(r["to_version"]), r["at"], r["actor"],
                          r["reason"]) for r in rows]


def previous_champion(engine: sa.Engine) -> int | None:
    """The version the champion pointed at before its latest switch."""
    current = champion_version(engine)
    for promotion in reversed(promotion_history(engine)):
        if promotion.to_version == current:
            return promotion.from_version
    return None


def rollback(engine: sa.Engine, actor: str, reason: str, to_version: int | None = None) -> Promotion:
    """Point the champion back at ``to_version`` (default: the champion before the latest switch).

    A rollback is a promotion like any other: compare-and-swap, recorded with who and why.
    The next run pulls from the restored champion's watermark and fine-tunes from it.
    """
    current = champion_version(engine)
    if current is None:
        raise LookupError("there is no champion to roll back")
    target = previous_champion(engine) if to_version is None else to_version
    if target is None:
        raise LookupError(f"champion version {current} has no predecessor; name a version to roll back to")
    if target == current:
        raise ValueError(f"version {target} is already the champion")
    return switch_champion(engine, target, expected=current, actor=actor, reason=f"rollback: {reason}")


def lineage_of(engine: sa.Engine, version: int | None = None) -> Lineage:
    """The champion (or ``version``) and its ancestors, newest first, with its watermark.

    What they consumed is not waiting any more (``data.ledger``); a rollback changes the lineage,
    and with it what waits.
    """
    start = champion_version(engine) if version is None else version
    if start is None:
        return Lineage()
    with engine.connect() as conn:
        parents = dict(conn.execute(sa.select(versions_table.c.version, versions_table.c.parent_version)).all())
    chain: list[int] = []
    current: int | None = int(start)
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return Lineage(versions=tuple(chain), watermark=get_version(engine, int(start)).watermark)


def require_registry(engine: sa.Engine) -> None:
    """Refuse a database without the registry tables (read-only commands create nothing)."""
    inspector = sa.inspect(engine)
    missing = [t.name for t in metadata.sorted_tables if not inspector.has_table(t.name)]
    if missing:
        raise LookupError(f"{engine.url.render_as_string(hide_password=True)} has no model registry "
                          f"({', '.join(missing)} missing): run `retrain init` to create it")
