"""Steps that read the labeled data: the new rows since the watermark, and the held-out set."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from models import registry
from retrain import store
from retrain.settings import Settings


@task(name="read champion", cache_policy=NO_CACHE)
def read_champion(settings: Settings) -> registry.ModelVersion | None:
    """The current champion (None before the first promotion)."""
    engine = store.connect(settings)
    # Only the registry's own tables: a missing labeled-data table is an error to report
    # (a mistyped RETRAIN_TABLE must not silently become a new, empty table).
    registry.create_registry_schema(engine)
    current = registry.champion(engine)
    logger = get_run_logger()
    if current is None:
        logger.info("no champion yet: the first model starts from base model %s", settings.base_model)
    else:
        logger.info("champion is version %s (accuracy %.4f, watermark %s)",
                    current.version, current.accuracy, current.watermark)
    return current


@task(name="pull new rows", cache_policy=NO_CACHE)
def pull_new_rows(settings: Settings, after: store.Watermark | None) -> store.LabeledBatch:
    """Rows labeled after the champion's watermark."""
    batch = store.pull_new_rows(store.connect(settings), settings, after)
    get_run_logger().info(
        "pulled %d new rows after %s (%d to train on, %d held out)",
        len(batch.frame), after, len(batch.training_rows), len(batch.frame) - len(batch.training_rows),
    )
    return batch


@task(name="load held-out set", cache_policy=NO_CACHE)
def load_held_out_set(settings: Settings, up_to: store.Watermark) -> store.HeldOutSet:
    """The held-out snapshot champion and challenger are both scored on."""
    held_out = store.held_out_set(store.connect(settings), settings, up_to)
    get_run_logger().info("held-out set: %d rows, content hash %s", held_out.size,
                          held_out.content_hash[:12])
    return held_out
