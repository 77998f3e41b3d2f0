"""The real retrain flow under Prefect's test harness, on a tiny random BERT with the real vocabulary."""

from __future__ import annotations

import pytest

from flows.retrain import retrain
from models import registry
from models.hardware import resolve_precision
from retrain.settings import Settings
from retrain.store import connect, count_rows_after, create_schema, held_out_set
from tests.helpers import add_rows, sentiment_rows
from validation import DataCheckFailed

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def settings(flow_settings) -> Settings:
    return flow_settings


def _all_ids(settings: Settings) -> int:
    return count_rows_after(connect(settings), settings, None)


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


def test_better_challenger_replaces_the_champion_and_the_watermark_moves(settings, with_champion):
    new_ids = add_rows(settings, sentiment_rows(60, seed=2))
    report = retrain(triggered_by="test", min_improvement=0.0)
    engine = connect(settings)
    version = registry.get_version(engine, report.challenger_version)
    assert report.rows_pulled == 60
    assert version.parent_version == with_champion.version
    assert report.champion_accuracy is not None and report.champion_version == with_champion.version
    # Replay: half as many older training rows as new ones, from before the champion's watermark, on record.
    replayed = version.metrics["replay"]["ids"]
    assert len(replayed) == round(report.rows_trained * 0.5) and max(replayed) <= with_champion.watermark.id
    assert set(version.metrics["slices"]) == {"challenger", "champion", "tfidf"}
    if report.promoted:
        assert registry.champion(engine).watermark.id == max(new_ids)
    else:  # a tie on a learnable task: the rule keeps the champion and its watermark
        assert report.challenger_accuracy <= report.champion_accuracy
        assert registry.champion(engine).version == with_champion.version


def test_rejected_challenger_leaves_champion_and_watermark_so_rows_come_back(settings, with_champion):
    add_rows(settings, sentiment_rows(40, seed=3))
    report = retrain(triggered_by="test", min_improvement=1.0)  # nothing can add a full point of accuracy
    engine = connect(settings)
    assert not report.promoted and report.decision == "kept champion"
    assert "min_improvement 1" in report.reason
    assert registry.champion(engine).version == with_champion.version
    assert registry.get_version(engine, report.challenger_version).decision == registry.REJECTED

    add_rows(settings, sentiment_rows(30, seed=4))
    again = retrain(triggered_by="test", min_improvement=1.0)
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


def test_dry_run_evaluates_but_never_promotes(settings, with_champion):
    add_rows(settings, sentiment_rows(40, seed=6))
    report = retrain(triggered_by="test", dry_run=True, min_improvement=0.0)
    engine = connect(settings)
    assert not report.promoted and report.decision == "dry run"
    assert registry.get_version(engine, report.challenger_version).decision == registry.DRY_RUN
    assert registry.champion(engine).version == with_champion.version


def test_champion_is_scored_only_on_held_out_rows_it_has_no_prediction_for(settings, with_champion):
    from retrain.store import pull_new_rows
    from tasks.evaluation import score, score_version

    engine = connect(settings)
    first = held_out_set(engine, settings, with_champion.watermark)
    # Its own run recorded what it predicted for its held-out rows, as the challenger.
    keys = {registry.text_key(text) for text in first.frame["text"]}
    assert len(registry.cached_predictions(engine, with_champion.version, keys)) == len(keys)

    add_rows(settings, sentiment_rows(200, seed=2))
    grown = held_out_set(engine, settings, pull_new_rows(engine, settings, with_champion.watermark).end)
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
