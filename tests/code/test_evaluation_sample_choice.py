"""Which held-out rows a run scores: the evaluation sample chosen from the held-out snapshot, stable from
week to week so the champion's recorded predictions are reused, the whole set when asked or when small."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from data.held_out import HeldOutSet, content_hash
from data.ledger import Watermark
from data.settings import Settings
from data.sql import utcnow
from models import registry
from models.evaluation_sample import (
    choose_evaluation_sample,
    discordance_prior,
    discordance_upper_bound,
    error_bound,
    plan_sample,
    required_rows,
    size_from_pilot,
)
from models.predictions import cached_predictions, record_predictions, text_key

CLASSES = np.array(["negative", "neutral", "positive"])


def _held_out(rows: int, seed: int = 0, low: int = 1) -> HeldOutSet:
    """A held-out snapshot as ``data.held_out.held_out_set`` gives it: distinct ids in id order."""
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(np.arange(low, low + 5 * rows), rows, replace=False))
    labels = rng.choice(CLASSES, rows, p=[0.6, 0.3, 0.1])
    frame = pd.DataFrame({"id": ids, "text": [f"held-out text #{i}" for i in ids], "label": labels})
    return HeldOutSet(frame=frame, content_hash=content_hash(frame))


def _grown(held_out: HeldOutSet, new: HeldOutSet) -> HeldOutSet:
    frame = pd.concat([held_out.frame, new.frame], ignore_index=True).sort_values("id", ignore_index=True)
    return HeldOutSet(frame=frame, content_hash=content_hash(frame))


def _champion(version: int = 3, accuracy: float = 0.9, paired: dict | None = None) -> registry.ModelVersion:
    return registry.ModelVersion(
        base_model="none (a test stand-in)", artifact_uri="", artifact_sha256="", labels=tuple(CLASSES),
        sequence_length=32, window_after=None, window_end=Watermark(utcnow(), 1), new_rows=0, train_rows=0,
        test_rows=0, test_set_hash="", accuracy=accuracy, metrics={"paired": paired}, decision=registry.PROMOTED,
        reason="test", triggered_by="test", version=version)


PAIRED = {"rows": 4000, "challenger_only_correct": 230, "champion_only_correct": 170}


def test_a_held_out_set_below_the_required_size_is_scored_whole_as_before():
    held_out = _held_out(700)  # the demo's size
    for champion in (None, _champion(), _champion(paired=PAIRED)):
        chosen = choose_evaluation_sample(Settings(), held_out, champion)
        assert chosen.rows is held_out  # the very snapshot: same rows, same order, same hash
        assert chosen.plan.full and chosen.plan.rows == chosen.plan.held_out_rows == 700
        assert "all 700 held-out rows" in chosen.plan.reason


def test_a_large_held_out_set_is_sampled_to_the_planned_size():
    held_out = _held_out(60_000)
    chosen = choose_evaluation_sample(Settings(), held_out, _champion(paired=PAIRED))
    rate = discordance_upper_bound(400, 4000)
    assert chosen.plan.rows == required_rows(0.01, rate) == chosen.rows.size < held_out.size
    assert not chosen.plan.full and f"{chosen.plan.rows:,} of 60,000 held-out rows" in chosen.plan.reason
    sample = chosen.rows.frame
    assert sample["id"].is_monotonic_increasing and set(sample["id"]) <= set(held_out.frame["id"])
    assert chosen.rows.content_hash == content_hash(sample) != held_out.content_hash
    for label in CLASSES:  # stratified: each class at its held-out share, to within one row
        share = np.mean(held_out.frame["label"] == label)
        assert abs(np.sum(sample["label"] == label) - share * len(sample)) <= 1.0, label


def test_full_evaluation_scores_every_held_out_row():
    held_out = _held_out(60_000)
    chosen = choose_evaluation_sample(Settings(full_evaluation=True), held_out, _champion(paired=PAIRED))
    assert chosen.rows is held_out and chosen.plan.full and "full evaluation requested" in chosen.plan.reason


def test_the_settings_size_the_sample():
    held_out = _held_out(60_000)
    wide = choose_evaluation_sample(Settings(evaluation_half_width=0.05, evaluation_min_rows=200), held_out,
                                    _champion(paired=PAIRED))
    assert wide.rows.size == 200  # ±5 points needs fewer rows than the floor
    strict = choose_evaluation_sample(Settings(evaluation_confidence=0.99), held_out, _champion(paired=PAIRED))
    assert strict.rows.size == required_rows(0.01, discordance_upper_bound(400, 4000), confidence=0.99)


def test_the_discordance_comes_from_the_champions_record_else_a_pilot():
    rate, source = discordance_prior(_champion(paired=PAIRED))
    assert rate == discordance_upper_bound(400, 4000) > 0.1 and "400 of 4,000 rows discordant" in source
    assert discordance_prior(_champion(accuracy=0.9)) is None  # the first champion: no paired comparison
    assert discordance_prior(None)[0] == 1.0  # no champion: the largest rate there is
    assert choose_evaluation_sample(Settings(), _held_out(60_000), None).rows.size == required_rows(0.01, 1.0)
    # A set scored whole anyway states its interval from the error rates' bound: no pilot to run.
    small = choose_evaluation_sample(Settings(), _held_out(700), _champion(accuracy=0.9))
    assert not small.pilot and small.plan.full and small.plan.discordance_rate == pytest.approx(0.2)
    assert error_bound(_champion(accuracy=0.2))[0] == 1.0


def test_a_first_champion_is_sized_from_a_pilot_that_the_sample_starts_with():
    held_out = _held_out(60_000)
    pilot = choose_evaluation_sample(Settings(), held_out, _champion(accuracy=0.8))
    assert pilot.pilot and pilot.plan is None and pilot.rows.size == Settings().evaluation_min_rows
    assert choose_evaluation_sample(Settings(full_evaluation=True), held_out, _champion()).rows is held_out
    truth = pilot.rows.frame["label"].tolist()
    rng = np.random.default_rng(1)
    challenger = [t if rng.random() < 0.85 else "other" for t in truth]
    champion = [c if rng.random() < 0.9 else ("other" if c == t else t) for c, t in zip(challenger, truth, strict=True)]
    discordant = sum((a == t) != (b == t) for t, a, b in zip(truth, challenger, champion, strict=True))
    sample = size_from_pilot(Settings(), held_out, truth, challenger, champion)
    assert sample.plan.rows == required_rows(0.01, discordance_upper_bound(discordant, 1000)) == sample.rows.size
    assert f"pilot of 1,000 rows: {discordant:,} discordant" in sample.plan.reason
    assert set(pilot.rows.frame["id"]) < set(sample.rows.frame["id"])  # nested: the pilot is not scored again
    # The 2e bound would have asked for 2 * 0.2 error: 15,366 rows, about three times as many.
    assert required_rows(0.01, error_bound(_champion(accuracy=0.8))[0]) > 2.5 * sample.plan.rows
    with pytest.raises(ValueError, match="a pilot of 3 rows with 2"):
        size_from_pilot(Settings(), held_out, truth[:3], challenger[:2], champion[:3])


def test_an_empty_held_out_set_is_left_for_scoring_to_refuse():
    empty = HeldOutSet(frame=_held_out(10).frame.iloc[0:0], content_hash=content_hash(_held_out(10).frame.iloc[0:0]))
    chosen = choose_evaluation_sample(Settings(), empty, None)
    assert chosen.rows is empty and chosen.plan is None


def test_the_sample_is_stable_across_weeks_and_the_champions_predictions_are_reused(tmp_path):
    """Week one scores the challenger on its sample and records its predictions; promoted, it is week two's
    champion. Unchanged, the held-out set gives the same sample; grown by the week's new held-out rows,
    it keeps week one's rows but for the new rows' share, so the champion runs on few rows."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.create_registry_schema(engine)
    settings = Settings()
    week_one = _held_out(60_000)
    first = choose_evaluation_sample(settings, week_one, _champion(paired=PAIRED)).rows
    record_predictions(engine, 4, {text_key(text): "positive" for text in first.frame["text"]})

    again = choose_evaluation_sample(settings, week_one, _champion(paired=PAIRED)).rows
    assert again.frame["id"].tolist() == first.frame["id"].tolist() and again.content_hash == first.content_hash

    new = _held_out(1200, seed=1, low=10**7)  # 2% more held-out rows, after every old id
    champion = _champion(version=4, paired={"rows": first.size, "challenger_only_correct": 230,
                                             "champion_only_correct": 170})
    second = choose_evaluation_sample(settings, _grown(week_one, new), champion).rows
    kept = set(first.frame["id"]) & set(second.frame["id"])
    assert len(kept) >= (1 / 1.02 - 0.02) * min(first.size, second.size)
    known = cached_predictions(engine, 4, map(text_key, second.frame["text"]))
    unknown = second.size - len(known)
    assert unknown == second.size - len(kept)  # only rows not in last week's sample need the champion run
    assert unknown <= 0.04 * second.size
    new_in_sample = second.frame["id"].isin(new.frame["id"]).sum()
    # The new rows get their share (about 78 rows; binomial noise ±9: they are stratified by class, not by week).
    assert abs(new_in_sample - second.size * 1200 / 61_200) <= 30



def test_the_report_states_the_sample_the_held_out_set_the_interval_and_why():
    from models.evaluation import evaluate_predictions
    from models.promotion import PairedComparison
    from tasks.report import RunReport, achieved_half_width, render_markdown

    plan = plan_sample(60_000, 0.01, 0.10, "upper bound from v3's run")
    paired = PairedComparison(rows=plan.rows, challenger_only_correct=230, champion_only_correct=150,
                              difference=80 / plan.rows, ci_low=0.0, ci_high=0.04, p_value=0.01)
    achieved = achieved_half_width(paired, plan.confidence)
    assert achieved == pytest.approx(1.959964 * np.sqrt((380 / plan.rows - (80 / plan.rows) ** 2) / plan.rows))
    report = RunReport(rows_pulled=60, rows_trained=50, checks_passed=3, checks_total=3, held_out_rows=60_000,
                       held_out_hash="0" * 64, champion_version=3, champion_accuracy=0.9, challenger_version=4,
                       challenger_accuracy=0.92, baseline_accuracy=0.5, promoted=True, decision="promoted",
                       reason="r", train_seconds=1.0, examples_per_second=1.0, evaluation_rows=plan.rows,
                       evaluation_reason=plan.reason, target_half_width=0.01, evaluation_confidence=0.95,
                       achieved_half_width=achieved)
    metrics = evaluate_predictions(["a", "b"], ["a", "b"], ("a", "b"))
    markdown = render_markdown(report, metrics, metrics, paired)
    assert "- held-out set: 60000 rows" in markdown  # the line it always had
    assert (f"- evaluation sample: 3,842 of 60,000 held-out rows: enough for ±1.0 points at 95% "
            f"with 10.0% discordant rows (upper bound from v3's run) (expected ±1.00 points); accuracy-difference "
            f"interval achieved ±{100 * achieved:.2f} points (targeted ±1.0 points at 95%)") in markdown
    first = RunReport(**{**report.__dict__, "champion_version": None, "achieved_half_width": None})
    assert "no champion to compare, interval targeted ±1.0 points at 95%" in render_markdown(first, metrics, None)
