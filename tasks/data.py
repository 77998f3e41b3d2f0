"""Steps that read the labeled data: the champion's lineage, the rows waiting for it, and the held-out set."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from data import store
from data.held_out import HeldOutSet, held_out_set
from data.ledger import Lineage
from data.pull import LabeledBatch
from data.pull import pull_new_rows as pull_waiting_rows
from data.settings import Settings
from data.split import fixed_test_fraction
from models import registry
from tasks.retries import DATABASE_RETRIES, DATABASE_RETRY_DELAYS, database_unreachable


@task(name="read champion", cache_policy=NO_CACHE, retries=DATABASE_RETRIES,
      retry_delay_seconds=DATABASE_RETRY_DELAYS, retry_condition_fn=database_unreachable)
def read_champion(settings: Settings) -> registry.ModelVersion | None:
    """The current champion (None before the first promotion)."""
    # A run never creates the database or the labeled-data table (a run from another folder, or a
    # mistyped RETRAIN_TABLE, must fail rather than train on a new, empty table); it may create its own.
    engine = store.connect(settings, must_exist=True)
    store.create_bookkeeping_schema(engine)
    registry.create_registry_schema(engine)
    fixed_test_fraction(engine, settings)  # refuse a changed held-out fraction before any work
    current = registry.champion(engine)
    logger = get_run_logger()
    if current is None:
        logger.info("no champion yet: the first model starts from base model %s", settings.base_model)
    else:
        logger.info("champion is version %s (accuracy %.4f, watermark %s)",
                    current.version, current.accuracy, current.watermark)
    return current


@task(name="pull new rows", cache_policy=NO_CACHE, retries=DATABASE_RETRIES,
      retry_delay_seconds=DATABASE_RETRY_DELAYS, retry_condition_fn=database_unreachable)
def pull_new_rows(settings: Settings, champion: registry.ModelVersion | None) -> LabeledBatch:
    """Every row the champion's lineage has not consumed (and no check quarantined)."""
    engine = store.connect(settings)
    lineage = registry.lineage_of(engine, champion.version) if champion else Lineage()
    batch = pull_waiting_rows(engine, settings, lineage)
    get_run_logger().info(
        "pulled %d rows waiting for the champion's lineage %s (%d to train on, %d held out; %d from behind "
        "its watermark %s)", len(batch.frame), list(lineage.versions) or "(none)", len(batch.training_rows),
        len(batch.frame) - len(batch.training_rows), batch.behind, batch.after,
    )
    return batch


@task(name="load held-out set", cache_policy=NO_CACHE, retries=DATABASE_RETRIES,
      retry_delay_seconds=DATABASE_RETRY_DELAYS, retry_condition_fn=database_unreachable)
def load_held_out_set(settings: Settings, batch: LabeledBatch) -> HeldOutSet:
    """The held-out snapshot champion and challenger are both scored on."""
    held_out = held_out_set(store.connect(settings), settings, batch.lineage, batch)
    get_run_logger().info("held-out set: %d rows, content hash %s", held_out.size,
                          held_out.content_hash[:12])
    return held_out
