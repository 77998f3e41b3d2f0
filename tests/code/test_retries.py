"""Steps retry only when they lost the database, and only the steps whose database work can be redone."""

from __future__ import annotations

import sqlalchemy as sa
from prefect.states import Completed, Failed

from tasks.data import load_held_out_set, pull_new_rows, read_champion
from tasks.evaluation import score_baseline, score_champion
from tasks.promotion import promote_challenger, register_challenger
from tasks.retries import DATABASE_RETRIES, database_unreachable
from tasks.training import fine_tune_challenger


def test_only_a_lost_database_is_retried():
    lost = sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    dropped = sa.exc.InterfaceError("SELECT 1", {}, ConnectionResetError("connection already closed"))
    assert database_unreachable(None, None, Failed(data=lost))
    assert database_unreachable(None, None, Failed(data=dropped))
    assert not database_unreachable(None, None, Failed(data=LookupError("no table retrain_examples")))
    assert not database_unreachable(None, None, Failed(data=sa.exc.IntegrityError("INSERT", {}, ValueError())))
    assert not database_unreachable(None, None, Completed(data=1))


def test_reads_and_idempotent_writes_retry_training_and_registering_never_do():
    for step in (read_champion, pull_new_rows, load_held_out_set, score_champion, score_baseline):
        assert step.retries == DATABASE_RETRIES and step.retry_condition_fn is database_unreachable, step.name
    for step in (fine_tune_challenger, register_challenger, promote_challenger):
        assert step.retries == 0, step.name
