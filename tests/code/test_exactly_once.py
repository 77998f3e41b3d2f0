"""Every labeled row exactly once: trained on by the champion's lineage, held out, quarantined, or waiting.

A ``hypothesis`` state machine drives random schedules on SQLite and PostgreSQL: inserts with any
``labeled_at`` (past, future, ties), edits of ``labeled_at``, runs (promoted, rejected, dry, or killed
after the checks or after registering), rollbacks, quarantines and releases. The pull, the data checks,
the ledger, the registry, the promotion and the quarantine are the real code; only fine-tuning is a
stand-in that records which rows it was given. After every step the database must agree with the
stand-in's record and with itself. ``HYPOTHESIS_PROFILE=long`` runs a longer profile (a benchmark run).
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from data import ledger
from data.held_out import held_out_set
from data.pull import pull_new_rows, waiting_counts
from data.quarantine_table import quarantine_table
from data.settings import Settings
from data.split import TEST
from data.store import NewExample, connect, create_schema, examples_table, insert_examples
from models import registry
from models.training import _early_stopping_split
from tests.helpers import register_consumed, sentiment_rows
from validation import gate, quarantine

T0 = datetime(2026, 1, 5, 9, 0, 0, 250000)
settings.register_profile("ci", max_examples=8, stateful_step_count=14, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("long", max_examples=60, stateful_step_count=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
STATS: Counter = Counter()  # schedules and steps run, printed at the end of each test


def loose_settings(database_url: str) -> Settings:
    """Checks that quarantine (low confidence) but rarely refuse a whole batch of random rows."""
    return Settings(database_url=database_url, test_fraction=0.3, min_new_rows=1, max_quarantine_share=1.0,
                    max_label_kl=1000.0, max_class_share=1.0, length_outlier_factor=1000.0)


class ExactlyOnce(RuleBasedStateMachine):
    """One database, and the stand-in trainer's record of what each version consumed."""

    database_url: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.settings = loose_settings(self.database_url)
        self.engine = connect(self.settings)
        create_schema(self.engine, self.settings)
        registry.create_registry_schema(self.engine)
        self.trained: dict[int, set[int]] = {}  # version -> rows the stand-in fine-tuned on
        self.stopping: dict[int, set[int]] = {}  # version -> rows it held back for early stopping
        self.held_out: dict[int, set[int]] = {}  # version -> rows it was scored on as held out
        self.dry: set[int] = set()
        self.texts = 0
        STATS["schedules"] += 1

    # --- what happens to a team's table ------------------------------------------------------------

    @initialize(count=st.integers(5, 25))
    def first_rows(self, count: int) -> None:
        self.insert(count, 0, 0)

    @rule(count=st.integers(1, 12), day=st.sampled_from([-30, -1, 0, 0, 1, 2, 30]), low=st.integers(0, 2))
    def insert(self, count: int, day: int, low: int) -> None:
        """Rows stamped in the past (a backfill), at a tie with earlier rows, or in the future."""
        rows = sentiment_rows(count, seed=self.texts, prefix=f"r{self.texts} ")
        self.texts += 1
        at = T0 + timedelta(days=day)
        examples = [NewExample(text, label, labeled_at=at, confidence=0.1 if i < low else 0.9)
                    for i, (text, label) in enumerate(rows)]
        insert_examples(self.engine, self.settings, examples)
        STATS["steps"] += 1

    @rule(pick=st.integers(0, 10_000), day=st.sampled_from([-60, -1, 0, 1, 60]))
    def edit_labeled_at(self, pick: int, day: int) -> None:
        """A re-review moves a row's time: nothing may be skipped or trained twice because of it."""
        table = examples_table(self.settings)
        with self.engine.begin() as conn:
            ids = conn.execute(sa.select(table.c.id).order_by(table.c.id)).scalars().all()
            conn.execute(table.update().where(table.c.id == ids[pick % len(ids)])
                         .values(labeled_at=T0 + timedelta(days=day, microseconds=pick)))
        STATS["steps"] += 1

    # --- what a run does -------------------------------------------------------------------------------

    @rule(promote=st.booleans(), dry=st.booleans(),
          kill=st.sampled_from([None, None, "after checks", "after register"]))
    def run(self, promote: bool, dry: bool, kill: str | None) -> None:
        STATS["steps"] += 1
        lineage = registry.lineage_of(self.engine)
        batch = pull_new_rows(self.engine, self.settings, lineage)
        checked = gate.check_batch(self.engine, self.settings, batch, flow_run="property", write=not dry)
        if not checked.report.success or checked.batch.training_rows.empty:
            return  # refused: the run stops before training, nothing written
        batch = checked.batch
        if kill == "after checks":
            return
        rows = batch.training_rows
        _, stop = _early_stopping_split(len(rows), 0.2, 7, rows["prior_role"].isna().tolist())
        stopping = {int(rows["id"].iloc[i]) for i in stop}
        held = held_out_set(self.engine, self.settings, lineage, batch)
        trained_now = set(map(int, rows["id"])) - stopping
        assert not trained_now & set(held.frame["id"])  # the stand-in trains on no row it is scored on
        decision = registry.DRY_RUN if dry else registry.PENDING if promote else registry.REJECTED
        version = registry.register_version(self.engine, registry.NewVersion(
            base_model="stand-in", artifact_uri="" if dry else "file:///stand-in",
            artifact_sha256="" if dry else "0" * 64,
            labels=tuple(self.settings.labels), sequence_length=8, window_after=batch.after,
            window_end=batch.frontier, new_rows=len(batch.frame), train_rows=len(trained_now), test_rows=held.size,
            test_set_hash=held.content_hash, accuracy=0.5, metrics={}, decision=decision, reason="property",
            triggered_by="property", parent_version=lineage.champion,
        ), None if dry else batch.consumption(self.settings.test_fraction, stopping)).version
        if dry:
            self.dry.add(version)
            return
        self.trained[version], self.stopping[version] = trained_now, stopping
        self.held_out[version] = set(map(int, batch.frame.loc[batch.frame["split"] == TEST, "id"]))
        if kill == "after register" or not promote:
            return
        registry.switch_champion(self.engine, version, lineage.champion, "property", "better")

    @precondition(lambda self: len(registry.promotion_history(self.engine)) > 0)
    @rule(pick=st.integers(0, 1000))
    def rollback(self, pick: int) -> None:
        STATS["steps"] += 1
        current = registry.champion_version(self.engine)
        targets = [v.version for v in registry.list_versions(self.engine)
                   if v.version != current and v.decision != registry.DRY_RUN]
        if targets:
            registry.rollback(self.engine, "property", "random rollback", to_version=targets[pick % len(targets)])

    @rule(share=st.sampled_from([0.5, 1.0]))
    def release_quarantined(self, share: float) -> None:
        STATS["steps"] += 1
        held = sorted({e.row_id for e in quarantine.list_entries(self.engine, self.settings)})
        if held:
            quarantine.release(self.engine, self.settings, held[: max(1, int(len(held) * share))], by="property")

    # --- what must hold after every step -------------------------------------------------------------

    def _ledger(self) -> list[tuple[int, int, str]]:
        t = ledger.ledger_table
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(t.c.row_id, t.c.version, t.c.role))]

    @invariant()
    def every_row_is_in_exactly_one_place(self) -> None:
        table, q = examples_table(self.settings), quarantine_table
        with self.engine.connect() as conn:
            rows = set(conn.execute(sa.select(table.c.id)).scalars())
            active = set(conn.execute(sa.select(q.c.row_id).where(q.c.released_at.is_(None))).scalars())
        entries = self._ledger()
        lineage = registry.lineage_of(self.engine)

        # The ledger is exactly what the stand-in consumed, version by version; a dry run consumed nothing.
        by_version: dict[int, dict[str, set[int]]] = {}
        for row_id, version, role in entries:
            by_version.setdefault(version, {}).setdefault(role, set()).add(row_id)
        for version, trained in self.trained.items():
            roles = by_version.get(version, {})
            assert roles.get(ledger.TRAINED, set()) == trained
            assert roles.get(ledger.EARLY_STOPPING, set()) == self.stopping[version]
            assert roles.get(ledger.HELD_OUT, set()) == self.held_out[version]
        assert not set(by_version) & self.dry

        # No held-out row was ever trained on, by any version.
        ever_held = set().union(*self.held_out.values()) if self.held_out else set()
        ever_trained = set().union(*self.trained.values(), *self.stopping.values()) if self.trained else set()
        assert not ever_held & ever_trained

        in_lineage = [(r, role) for r, v, role in entries if v in lineage.versions]
        trained = {r for r, role in in_lineage if role in (ledger.TRAINED, ledger.REPLAY)}
        held = {r for r, role in in_lineage if role == ledger.HELD_OUT}
        assert not trained & held
        quarantined = (active & rows) - trained - held
        waiting = rows - trained - held - quarantined
        assert trained | held | quarantined | waiting == rows
        assert len(trained) + len(held) + len(quarantined) + len(waiting) == len(rows)

        # The pull is exactly the waiting rows, and `retrain status` counts them.
        pulled = pull_new_rows(self.engine, self.settings, lineage)
        assert set(pulled.frame["id"]) == waiting and len(pulled.frame) == len(waiting)
        assert waiting_counts(self.engine, self.settings, lineage).total == len(waiting)

    @invariant()
    def promoted_means_champion_once(self) -> None:
        switched_to = {p.to_version for p in registry.promotion_history(self.engine)}
        for version in registry.list_versions(self.engine):
            if version.decision == registry.PROMOTED:
                assert version.version in switched_to


@pytest.mark.slow
def test_every_row_exactly_once_on_sqlite(tmp_path) -> None:
    # A fresh file per schedule: hypothesis builds a new state machine for each one.
    class PerSchedule(ExactlyOnce):
        def __init__(self) -> None:
            self.database_url = f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"
            super().__init__()

    started, before = time.perf_counter(), STATS.copy()
    PerSchedule.TestCase.settings = settings.get_profile(PROFILE)
    PerSchedule.TestCase("runTest").runTest()
    ran = STATS - before
    print(f"\nexactly-once property on SQLite ({PROFILE}): {ran['schedules']} schedules, {ran['steps']} steps "
          f"in {time.perf_counter() - started:.0f} s")


@pytest.mark.slow
def test_every_row_exactly_once_on_postgresql(postgres_url: str) -> None:
    admin = sa.create_engine(postgres_url.split("?")[0])
    schemas: list[str] = []

    class PerSchedule(ExactlyOnce):
        def __init__(self) -> None:
            schema = f"retrain_prop_{uuid.uuid4().hex[:10]}"
            with admin.begin() as conn:
                conn.execute(sa.schema.CreateSchema(schema))
            schemas.append(schema)
            self.database_url = f"{postgres_url.split('?')[0]}?options=-csearch_path%3D{schema}"
            super().__init__()

        def teardown(self) -> None:
            self.engine.dispose()

    started, before = time.perf_counter(), STATS.copy()
    try:
        PerSchedule.TestCase.settings = settings.get_profile(PROFILE)
        PerSchedule.TestCase("runTest").runTest()
    finally:
        from data.store import _engine

        _engine.cache_clear()
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()
    ran = STATS - before
    print(f"\nexactly-once property on PostgreSQL ({PROFILE}): {ran['schedules']} schedules, {ran['steps']} steps "
          f"in {time.perf_counter() - started:.0f} s")


# --- a long transaction across a run's cutoff --------------------------------------------------------


def test_rows_a_long_transaction_holds_across_a_runs_cutoff_are_trained_exactly_once(postgres_url: str) -> None:
    settings_ = loose_settings(postgres_url)
    engine = connect(settings_)
    create_schema(engine, settings_)
    first = insert_examples(engine, settings_, [NewExample(t, label) for t, label in sentiment_rows(20, seed=1)])

    writer = sa.create_engine(postgres_url)
    with writer.connect() as conn:
        transaction = conn.begin()
        # PostgreSQL's now() is the transaction's start: these rows carry a time before the run's cutoff,
        # and become visible only after it.
        held_back = conn.execute(sa.text(
            "INSERT INTO labeled_examples (text, label, labeled_at) "
            "SELECT 'written in a long transaction ' || g, CASE WHEN g % 2 = 0 THEN 'positive' ELSE 'negative' END, "
            "now() AT TIME ZONE 'UTC' FROM generate_series(1, 10) AS g RETURNING id")).scalars().all()
        time.sleep(0.05)
        later = insert_examples(engine, settings_, [NewExample(t, label)
                                                     for t, label in sentiment_rows(20, seed=2, prefix="later ")])
        v1 = register_consumed(settings_)  # the run: everything committed so far
        transaction.commit()
    writer.dispose()

    assert v1.watermark.id == max(later) and min(held_back) < max(later)
    batch = pull_new_rows(engine, settings_, registry.lineage_of(engine))
    assert set(batch.frame["id"]) == set(held_back) and batch.behind == len(held_back)
    v2 = register_consumed(settings_)

    consumed = Counter(row for row, version, _ in _all_entries(engine) if version in (v1.version, v2.version))
    assert set(consumed) == set(first) | set(later) | set(held_back)  # zero rows missed
    assert set(consumed.values()) == {1}  # zero rows consumed twice
    assert pull_new_rows(engine, settings_, registry.lineage_of(engine)).frame.empty


def _all_entries(engine: sa.Engine) -> list[tuple[int, int, str]]:
    t = ledger.ledger_table
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(t.c.row_id, t.c.version, t.c.role))]
