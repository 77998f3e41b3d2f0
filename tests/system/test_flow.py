"""The real retrain flow under Prefect's test harness, on a tiny random BERT with the real vocabulary."""

from __future__ import annotations

import pytest

from data.held_out import held_out_set
from data.ledger import EARLY_STOPPING, TRAINED, consumed_by
from data.pull import pull_new_rows, waiting_counts
from data.settings import RunOptions, Settings
from data.store import connect, count_rows, create_schema
from flows.retrain import retrain
from models import predictions, registry
from models.hardware import resolve_precision
from retrain.cli import main
from tests.helpers import add_rows, sentiment_rows
from validation import DataCheckFailed

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def settings(flow_settings) -> Settings:
    return flow_settings


def _all_ids(settings: Settings) -> int:
    return count_rows(connect(settings), settings)


@pytest.fixture
def with_champion(settings) -> registry.ModelVersion:
    add_rows(settings, sentiment_rows(240, seed=1))
    report = retrain(triggered_by="test")
    assert report.promoted, report.reason
    return registry.champion(connect(settings))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_first_run_trains_and_promotes_the_first_champion(database, request, tiny_base_model, monkeypatch, settings):
    if database == "postgresql":
        monkeypatch.setenv("RETRAIN_DATABASE_URL", request.getfixturevalue("postgres_url"))
        settings = Settings()
        create_schema(connect(settings), settings)
    ids = add_rows(settings, sentiment_rows(240, seed=1))
    report = retrain(triggered_by="test")

    engine = connect(settings)
    champion = registry.champion(engine)
    assert report.promoted and report.decision == "promoted"
    assert set(report.step_seconds) == {"pull", "data checks", "fine-tune", "score challenger", "score champion",
                                        "baselines and behaviour", "register and promote"}
    assert report.tfidf_accuracy is not None  # trained on the same rows, shown beside the models
    assert report.step_seconds["fine-tune"] > 0 and report.step_seconds["score champion"] == 0  # no champion yet
    assert report.challenger_accuracy > report.baseline_accuracy
    assert report.rows_pulled == 240 and 0 < report.held_out_rows < 100
    assert report.rows_trained + report.held_out_rows == 240
    assert champion.version == report.challenger_version and champion.parent_version is None
    assert champion.watermark.id == max(ids)
    assert champion.test_set_hash == report.held_out_hash
    assert [p.to_version for p in registry.promotion_history(engine)] == [champion.version]
    # A held-out set below the evaluation sample's floor is scored whole, as it always was.
    assert report.evaluation_rows == report.held_out_rows and report.evaluation_reason.startswith("all ")
    assert champion.metrics["evaluation_sample"]["full"]
    assert champion.metrics["challenger"]["rows"] == champion.test_rows


def test_better_challenger_replaces_the_champion_and_the_watermark_moves(settings, with_champion, monkeypatch):
    monkeypatch.setenv("RETRAIN_CHALLENGER_FROM", "champion")  # a warm start and its replayed sample (auto: a refit)
    new_ids = add_rows(settings, sentiment_rows(60, seed=2))
    report = retrain(RunOptions(min_improvement=0.0), triggered_by="test")
    engine = connect(settings)
    version = registry.get_version(engine, report.challenger_version)
    assert report.rows_pulled == 60
    assert version.parent_version == with_champion.version
    assert report.champion_accuracy is not None and report.champion_version == with_champion.version
    # Replay: as many older training rows as new ones (the default share, 1.0), from before the champion's
    # watermark, on record.
    replayed = [i for i, role in consumed_by(engine, settings.table, [version.version]).items() if role == "replay"]
    assert 0 < len(replayed) == version.metrics["replay"]["rows"]
    assert settings.replay_fraction == 1.0 and len(replayed) == report.rows_trained - len(replayed)
    trained_before = consumed_by(engine, settings.table, [with_champion.version])
    assert {trained_before[i] for i in replayed} == {TRAINED}  # rows the champion trained on, never held out
    assert set(version.metrics["slices"]) == {"challenger", "champion", "tfidf"}
    if report.promoted:
        assert registry.champion(engine).watermark.id == max(new_ids)
    else:  # a tie on a learnable task: the rule keeps the champion and its watermark
        assert report.challenger_accuracy <= report.champion_accuracy
        assert registry.champion(engine).version == with_champion.version


def test_a_refit_starts_from_the_base_model_and_trains_on_every_row_the_lineage_did(settings, with_champion,
                                                                                    monkeypatch):
    def refused(*_args, **_kwargs):
        raise AssertionError("a refit must not start from the champion's weights")

    monkeypatch.setattr("models.starting_point.open_registered", refused)
    monkeypatch.setenv("RETRAIN_CHALLENGER_FROM", "base")
    add_rows(settings, sentiment_rows(60, seed=2))
    report = retrain(RunOptions(min_improvement=0.0), triggered_by="test")
    engine = connect(settings)
    version = registry.get_version(engine, report.challenger_version)
    assert version.parent_version == with_champion.version  # the champion it follows, whose rows it trained on
    trained_before = {i for i, role in consumed_by(engine, settings.table, [with_champion.version]).items()
                      if role == TRAINED}
    replayed = {i for i, role in consumed_by(engine, settings.table, [version.version]).items() if role == "replay"}
    assert replayed == trained_before and version.metrics["replay"]["rows"] == len(replayed)
    assert len(replayed) < report.rows_trained < len(replayed) + 60  # and the new rows not held out


def test_a_held_out_set_larger_than_needed_is_scored_on_its_sample_and_whole_on_demand(
    settings, with_champion, monkeypatch, capsys
):
    # The held-out sets here are tens of rows: a floor of 10 rows and a ±50-point target make them large.
    monkeypatch.setenv("RETRAIN_EVALUATION_MIN_ROWS", "10")
    monkeypatch.setenv("RETRAIN_EVALUATION_HALF_WIDTH", "0.5")
    engine = connect(settings)
    add_rows(settings, sentiment_rows(60, seed=2, prefix="week two "))
    report = retrain(RunOptions(min_improvement=0.0), triggered_by="test")

    version = registry.get_version(engine, report.challenger_version)
    rows = report.evaluation_rows  # the first champion has no paired record: a pilot of 10 rows sized it
    assert 10 <= rows < report.held_out_rows and f"{rows} of " in report.evaluation_reason
    assert "pilot of 10 rows" in report.evaluation_reason
    assert report.target_half_width == 0.5 and report.achieved_half_width is not None
    assert version.metrics["evaluation_sample"]["rows"] == version.metrics["challenger"]["rows"] == rows
    # The held-out set is still every held-out row, each recorded in the ledger for the lineage.
    held_out = held_out_set(engine, settings, registry.lineage_of(engine, version.version))
    assert (held_out.size, held_out.content_hash) == (version.test_rows, version.test_set_hash) == (
        report.held_out_rows, report.held_out_hash)
    keys = {predictions.text_key(text) for text in held_out.frame["text"]}
    assert len(predictions.cached_predictions(engine, version.version, keys)) == rows  # only the sample scored
    capsys.readouterr()
    assert main(["history", "-v"]) == 0
    assert f"evaluation sample: {rows} of {report.held_out_rows:,} held-out rows" in capsys.readouterr().out

    add_rows(settings, sentiment_rows(60, seed=3, prefix="week three "))
    full = retrain(RunOptions(min_improvement=0.0, full_evaluation=True), triggered_by="test")
    assert full.evaluation_rows == full.held_out_rows > 10 and "full evaluation requested" in full.evaluation_reason


def test_rejected_challenger_leaves_champion_and_watermark_so_rows_come_back(settings, with_champion):
    add_rows(settings, sentiment_rows(40, seed=3))
    report = retrain(RunOptions(min_improvement=1.0), triggered_by="test")  # nothing can add a full point of accuracy
    engine = connect(settings)
    assert not report.promoted and report.decision == "kept champion"
    assert "min_improvement 1" in report.reason
    assert registry.champion(engine).version == with_champion.version
    assert registry.get_version(engine, report.challenger_version).decision == registry.REJECTED

    add_rows(settings, sentiment_rows(30, seed=4))
    again = retrain(RunOptions(min_improvement=1.0), triggered_by="test")
    assert again.rows_pulled == 70  # the 40 seen only by the rejected challenger, plus 30 new


def test_bad_batch_stops_the_run_with_champion_rows_and_history_untouched(settings, with_champion):
    engine = connect(settings)
    rows_before, versions_before = _all_ids(settings), len(registry.list_versions(engine))
    good = sentiment_rows(30, seed=5)
    add_rows(settings, good + [("is this even a sentiment", "neutral"), ("   ", "positive")])

    with pytest.raises(DataCheckFailed) as failed:
        retrain(triggered_by="test")

    message = str(failed.value)
    assert "label_in_label_set" in message and "expect_column_values_to_be_in_set" in message
    assert "text_not_blank" in message
    assert registry.champion(engine) == with_champion
    assert len(registry.list_versions(engine)) == versions_before
    assert len(registry.promotion_history(engine)) == 1
    assert _all_ids(settings) == rows_before + 32  # no labeled row lost


def _snapshot(settings: Settings) -> dict:
    """Every table's rows (but the versions') and every file under the home's models and cache folders."""
    import sqlalchemy as sa

    engine = connect(settings)
    with engine.connect() as conn:
        tables = {name: sorted(map(tuple, conn.execute(sa.text(f'SELECT * FROM "{name}"'))))  # noqa: S608
                  for name in sa.inspect(engine).get_table_names() if name != "retrain_model_versions"}
    files = sorted(str(p) for folder in (settings.models_dir, settings.cache_dir) if folder.exists()
                   for p in folder.rglob("*"))
    return {"tables": tables, "files": files}


def test_a_dry_run_writes_nothing_but_its_own_version_record(settings, with_champion):
    add_rows(settings, sentiment_rows(40, seed=6) + [("so-so", "neutral")])  # one row it would quarantine
    engine = connect(settings)
    before, versions = _snapshot(settings), len(registry.list_versions(engine))
    report = retrain(RunOptions(dry_run=True, min_improvement=0.0, min_new_rows=20), triggered_by="test")

    assert not report.promoted and report.decision == "dry run"
    dry = registry.get_version(engine, report.challenger_version)
    assert dry.decision == registry.DRY_RUN and dry.artifact_uri == ""
    assert len(registry.list_versions(engine)) == versions + 1
    assert _snapshot(settings) == before  # no quarantine, ledger, prediction, artifact or checkpoint
    assert registry.champion(engine).version == with_champion.version
    with pytest.raises(ValueError, match="dry run"):
        registry.rollback(engine, actor="test", reason="test", to_version=dry.version)


def test_rows_held_back_for_early_stopping_are_trained_on_by_the_next_run(settings, monkeypatch):
    monkeypatch.setenv("RETRAIN_EARLY_STOPPING_FRACTION", "0.2")
    settings = Settings()
    add_rows(settings, sentiment_rows(240, seed=1))
    first = retrain(triggered_by="test")
    engine = connect(settings)
    if not first.promoted:  # early stopping may stop the tiny model early; a person may promote any version
        registry.switch_champion(engine, first.challenger_version, None, "test", "take it")
    roles = consumed_by(engine, settings.table, [first.challenger_version])
    stopping = {i for i, role in roles.items() if role == EARLY_STOPPING}
    assert first.rows_early_stopping == len(stopping) > 0 and first.rows_trained == list(roles.values()).count(TRAINED)
    lineage = registry.lineage_of(engine)
    assert set(pull_new_rows(engine, settings, lineage).frame["id"]) == stopping  # waiting: never trained on
    assert waiting_counts(engine, settings, lineage).behind == len(stopping)

    add_rows(settings, sentiment_rows(60, seed=2, prefix="week two "))
    second = retrain(RunOptions(min_improvement=0.0), triggered_by="test")
    again = consumed_by(engine, settings.table, [second.challenger_version])
    assert {again[i] for i in stopping} == {TRAINED}  # trained now, never held back twice
    assert second.rows_pulled == 60 + len(stopping)


def test_champion_is_scored_only_on_held_out_rows_it_has_no_prediction_for(settings, with_champion):
    from models.scoring import score, score_version

    engine = connect(settings)
    lineage = registry.lineage_of(engine)
    first = held_out_set(engine, settings, lineage)
    # Its own run recorded what it predicted for its held-out rows, as the challenger.
    keys = {predictions.text_key(text) for text in first.frame["text"]}
    assert len(predictions.cached_predictions(engine, with_champion.version, keys)) == len(keys)

    add_rows(settings, sentiment_rows(200, seed=2))
    grown = held_out_set(engine, settings, lineage, pull_new_rows(engine, settings, lineage))
    assert grown.size > first.size
    scored = score_version(settings, with_champion, grown)
    assert scored.rows_scored == grown.frame["text"].nunique() - len(keys)  # only the new held-out rows

    from models.artifacts import open_version

    fresh = score(open_version(with_champion.artifact_uri, with_champion.artifact_sha256, settings.cache_dir,
                               dtype=resolve_precision(settings.precision)), grown)
    assert fresh.rows_scored == grown.size
    assert scored.predictions == fresh.predictions and scored.metrics == fresh.metrics
    again = score_version(settings, with_champion, grown)
    assert again.rows_scored == 0 and again.predictions == fresh.predictions
