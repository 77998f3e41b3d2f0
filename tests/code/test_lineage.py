"""Lineage, rollback and remote artifact storage, through the real flow on a tiny BERT."""

from __future__ import annotations

import re

import pytest

from data.settings import RunOptions, Settings
from data.store import connect
from flows.retrain import retrain
from models import registry
from retrain.cli import main
from tests.helpers import add_rows, sentiment_rows

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def settings(flow_settings) -> Settings:
    return flow_settings


def test_rollback_restores_the_previous_champion_and_the_next_run_starts_from_it(settings, capsys):
    engine = connect(settings)
    add_rows(settings, sentiment_rows(240, seed=1))
    first = retrain(triggered_by="test")
    second_rows = add_rows(settings, sentiment_rows(40, seed=2))
    second = retrain(RunOptions(min_improvement=1.0), triggered_by="test")  # rejected: nothing adds a full point
    registry.switch_champion(engine, second.challenger_version, expected=first.challenger_version,
                             actor="test", reason="promote the rejected version by hand")
    assert registry.champion(engine).watermark.id == max(second_rows)

    assert main(["rollback", "--reason", "bad predictions in production", "--by", "alice"]) == 0
    assert "from version 2 to 1 by alice" in capsys.readouterr().out
    history = registry.promotion_history(engine)
    assert [(p.from_version, p.to_version) for p in history] == [(None, 1), (1, 2), (2, 1)]
    assert history[-1].actor == "alice" and history[-1].reason == "rollback: bad predictions in production"

    add_rows(settings, sentiment_rows(30, seed=3))
    third = retrain(triggered_by="test")
    version = registry.get_version(engine, third.challenger_version)
    assert version.parent_version == 1 and third.rows_pulled == 70  # rows after v1's watermark, again

    assert main(["history", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "rollback: bad predictions in production" in out and "test-set hash" in out
    assert re.search(r"ledger: \d+ held out, \d+ trained", out), out


def test_rollback_without_a_predecessor_is_refused(settings, capsys):
    add_rows(settings, sentiment_rows(240, seed=1))
    retrain(triggered_by="test")
    assert main(["rollback"]) == 1
    assert "no predecessor" in capsys.readouterr().err
    assert registry.champion_version(connect(settings)) == 1


def test_versions_live_in_an_fsspec_store_and_load_verified(settings, monkeypatch, capsys):
    monkeypatch.setenv("RETRAIN_ARTIFACT_STORE", "memory://retrain-test/models")
    add_rows(settings, sentiment_rows(240, seed=1))
    retrain(triggered_by="test")
    champion = registry.champion(connect(settings))
    assert champion.artifact_uri.startswith("memory://retrain-test/models/")

    assert main(["predict", "what a wonderful day"]) == 0
    assert capsys.readouterr().out.split("\t")[0] in ("negative", "positive")

    import fsspec

    filesystem = fsspec.filesystem("memory")
    weights = champion.artifact_uri.removeprefix("memory://") + "/task.weights.h5"
    filesystem.pipe(weights, filesystem.cat(weights)[:-8] + b"tampered")
    import shutil

    shutil.rmtree(Settings().cache_dir)  # force a fresh download of the tampered copy
    assert main(["predict", "what a wonderful day"]) == 1
    assert "refusing to load a changed artifact" in capsys.readouterr().err
