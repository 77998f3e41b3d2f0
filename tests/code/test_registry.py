"""The model registry: versions are kept forever, the champion alias moves only by compare-and-swap,
and every switch is in the promotion history."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from data.ledger import Watermark
from data.settings import Settings
from data.store import connect
from models import predictions as cache
from models import registry
from models.registry import PromotionConflict

T0 = datetime(2024, 5, 6, 7, 8, 9, 101112)


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    engine = connect(Settings(database_url=database_url))
    registry.create_registry_schema(engine)
    return engine


def register(engine: sa.Engine, end_id: int, parent: int | None = None, accuracy: float = 0.8,
             decision: str = registry.PROMOTED) -> registry.ModelVersion:
    after = None if parent is None else Watermark(T0, end_id - 1)
    return registry.register_version(engine, registry.NewVersion(
        base_model="test stand-in", artifact_uri=f"file:///models/{end_id}", artifact_sha256="ab" * 32,
        labels=("negative", "positive"), sequence_length=32, window_after=after,
        window_end=Watermark(T0 + timedelta(days=end_id), end_id), new_rows=10, train_rows=8, test_rows=2,
        test_set_hash="cd" * 32, accuracy=accuracy, metrics={"accuracy": accuracy}, decision=decision,
        reason="test", triggered_by="test", parent_version=parent,
    ))


def test_the_first_champion_is_set_with_expected_none(engine: sa.Engine) -> None:
    assert registry.champion(engine) is None
    v1 = register(engine, 10)

    promotion = registry.switch_champion(engine, v1.version, None, "alice", "first model")

    assert (promotion.from_version, promotion.to_version, promotion.actor) == (None, v1.version, "alice")
    assert registry.champion_version(engine) == v1.version
    assert registry.champion(engine) == v1


def test_a_stale_expected_champion_is_a_conflict_that_changes_nothing(engine: sa.Engine) -> None:
    v1, v2, v3 = register(engine, 10), register(engine, 20), register(engine, 30)
    registry.switch_champion(engine, v1.version, None, "run-1", "first")
    registry.switch_champion(engine, v2.version, v1.version, "run-2", "better")

    with pytest.raises(PromotionConflict, match=f"no longer version {v1.version}"):
        registry.switch_champion(engine, v3.version, v1.version, "run-3", "read the champion before run-2")

    assert registry.champion_version(engine) == v2.version
    assert [p.to_version for p in registry.promotion_history(engine)] == [v1.version, v2.version]


def test_a_first_champion_promotion_when_one_exists_is_a_conflict(engine: sa.Engine) -> None:
    v1, v2 = register(engine, 10), register(engine, 20)
    registry.switch_champion(engine, v1.version, None, "run-1", "first")

    with pytest.raises(PromotionConflict):
        registry.switch_champion(engine, v2.version, None, "run-2", "also thinks it is first")

    assert registry.champion_version(engine) == v1.version
    assert len(registry.promotion_history(engine)) == 1


def race(engine: sa.Engine, targets: list[int], expected: int | None) -> tuple[list[int], list[BaseException]]:
    """Promote each target from its own thread at once; returns the winners and the errors."""
    start = threading.Barrier(len(targets))
    winners: list[int] = []
    errors: list[BaseException] = []

    def promote(version: int) -> None:
        start.wait()
        try:
            winners.append(registry.switch_champion(engine, version, expected, f"run-{version}", "race").to_version)
        except BaseException as error:  # collected and checked below
            errors.append(error)

    threads = [threading.Thread(target=promote, args=(version,)) for version in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return winners, errors


def test_of_two_concurrent_first_champion_promotions_exactly_one_wins(engine: sa.Engine) -> None:
    v1, v2 = register(engine, 10), register(engine, 20)

    winners, errors = race(engine, [v1.version, v2.version], expected=None)

    assert len(winners) == 1 and len(errors) == 1, (winners, errors)
    assert isinstance(errors[0], PromotionConflict), repr(errors[0])
    assert registry.champion_version(engine) == winners[0]
    assert [(p.from_version, p.to_version) for p in registry.promotion_history(engine)] == [(None, winners[0])]


def test_of_two_concurrent_challengers_of_one_champion_exactly_one_wins(engine: sa.Engine) -> None:
    v1, v2, v3 = register(engine, 10), register(engine, 20), register(engine, 30)
    registry.switch_champion(engine, v1.version, None, "run-1", "first")

    winners, errors = race(engine, [v2.version, v3.version], expected=v1.version)

    assert len(winners) == 1 and len(errors) == 1, (winners, errors)
    assert isinstance(errors[0], PromotionConflict), repr(errors[0])
    assert registry.champion_version(engine) == winners[0]
    assert [(p.from_version, p.to_version) for p in registry.promotion_history(engine)] == [
        (None, v1.version), (v1.version, winners[0])
    ]


def test_the_promotion_history_keeps_every_switch_in_order(engine: sa.Engine) -> None:
    v1, v2, v3 = register(engine, 10), register(engine, 20), register(engine, 30)
    registry.switch_champion(engine, v1.version, None, "alice", "first")
    registry.switch_champion(engine, v2.version, v1.version, "scheduler", "better by 0.02")
    registry.switch_champion(engine, v3.version, v2.version, "scheduler", "better by 0.01")
    registry.rollback(engine, actor="bob", reason="v3 misbehaves in production")

    history = registry.promotion_history(engine)

    assert [(p.from_version, p.to_version, p.actor, p.reason) for p in history] == [
        (None, v1.version, "alice", "first"),
        (v1.version, v2.version, "scheduler", "better by 0.02"),
        (v2.version, v3.version, "scheduler", "better by 0.01"),
        (v3.version, v2.version, "bob", "rollback: v3 misbehaves in production"),
    ]
    assert all(p.alias == registry.CHAMPION for p in history)
    assert [p.at for p in history] == sorted(p.at for p in history)
    assert registry.champion_version(engine) == v2.version


def test_list_versions_keeps_old_and_rejected_versions(engine: sa.Engine) -> None:
    v1 = register(engine, 10)
    registry.switch_champion(engine, v1.version, None, "run-1", "first")
    v2 = register(engine, 20, parent=v1.version, accuracy=0.7, decision=registry.REJECTED)
    v3 = register(engine, 30, parent=v1.version, accuracy=0.9)
    registry.switch_champion(engine, v3.version, v1.version, "run-3", "better")

    versions = registry.list_versions(engine)

    assert versions == [v1, v2, v3]
    assert [v.decision for v in versions] == [registry.PROMOTED, registry.REJECTED, registry.PROMOTED]
    assert [v.parent_version for v in versions] == [None, v1.version, v1.version]
    assert registry.get_version(engine, v1.version) == v1


def test_an_unknown_version_is_a_lookup_error_and_cannot_become_champion(engine: sa.Engine) -> None:
    v1 = register(engine, 10)
    registry.switch_champion(engine, v1.version, None, "run-1", "first")
    with pytest.raises(LookupError, match="999"):
        registry.get_version(engine, 999)
    with pytest.raises(LookupError, match="999"):
        registry.switch_champion(engine, 999, v1.version, "someone", "typo")
    assert registry.champion_version(engine) == v1.version
    assert len(registry.promotion_history(engine)) == 1


def test_the_champions_watermark_is_its_registered_window_end(engine: sa.Engine) -> None:
    v1 = register(engine, 10)
    v2 = register(engine, 20, parent=v1.version)
    registry.switch_champion(engine, v1.version, None, "run-1", "first")
    registry.switch_champion(engine, v2.version, v1.version, "run-2", "better")

    current = registry.champion(engine)

    assert current is not None
    assert current.watermark == Watermark(T0 + timedelta(days=20), 20)
    assert current.window_after == Watermark(T0, 19)
    assert current.labels == ("negative", "positive") and current.metrics == {"accuracy": 0.8}
    assert registry.get_version(engine, v1.version).window_after is None


# --- written with the switch, recorded once -----------------------------------------------------------


def test_a_pending_challenger_becomes_promoted_only_in_the_switching_transaction(engine: sa.Engine) -> None:
    v1 = register(engine, 10, decision=registry.PENDING)
    assert registry.get_version(engine, v1.version).decision == registry.PENDING  # killed here: never "promoted"
    registry.switch_champion(engine, v1.version, None, "run", "first")
    assert registry.get_version(engine, v1.version).decision == registry.PROMOTED

    v2 = register(engine, 20, parent=v1.version, decision=registry.PENDING)
    with pytest.raises(PromotionConflict):
        registry.switch_champion(engine, v2.version, None, "run", "stale")  # the switch rolls back ...
    assert registry.get_version(engine, v2.version).decision == registry.PENDING  # ... and so does the decision


def test_a_rollback_keeps_a_versions_recorded_decision(engine: sa.Engine) -> None:
    v1 = register(engine, 10, decision=registry.REJECTED)
    registry.switch_champion(engine, v1.version, None, "ana", "a person may promote any version")
    assert registry.get_version(engine, v1.version).decision == registry.REJECTED


def test_two_runs_recording_the_same_predictions_both_succeed(engine: sa.Engine, monkeypatch) -> None:
    v1 = register(engine, 10)
    predictions = {cache.text_key(f"text {i}"): "positive" for i in range(10)}
    assert cache.record_predictions(engine, v1.version, dict(list(predictions.items())[:4])) == 4
    # The second run checked before the first one wrote: it sees nothing recorded, and inserts every key.
    monkeypatch.setattr(cache, "cached_predictions", lambda *args: {})
    cache.record_predictions(engine, v1.version, predictions)
    monkeypatch.undo()
    assert cache.cached_predictions(engine, v1.version, predictions) == predictions


def test_a_registry_sha256_that_is_not_hex_never_names_a_cache_folder(tmp_path) -> None:
    from models.version_files import fetch_version

    cache = tmp_path / "cache"
    (tmp_path / "keep").mkdir()
    with pytest.raises(ValueError, match="not 64 lowercase hex digits"):
        fetch_version("memory://models/v1", "../keep", cache)
    assert (tmp_path / "keep").is_dir() and not cache.exists()
