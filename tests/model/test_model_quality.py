"""The quality gates of issue 10: the TF-IDF baseline, per-slice scores, behaviour tests, replay."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from models import registry
from models.behaviour import compare, load_suite, parse_suite, perturbations, run_suite
from models.evaluation import evaluate_predictions, majority_baseline
from models.promotion import PromotionPolicy, decide
from models.replay import replay_sample, strata
from models.slices import SliceScore, slice_scores
from tests.helpers import sentiment_rows

LABELS = ("negative", "positive")
T0 = datetime(2026, 1, 5, 9, 0)


def _store(tmp_path, rows_per_week: int = 40, weeks: int = 2):
    from data.settings import Settings
    from data.store import NewExample, connect, create_schema, insert_examples

    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'q.db'}")
    engine = connect(settings)
    create_schema(engine, settings)
    for week in range(weeks):
        rows = sentiment_rows(rows_per_week, seed=week)
        insert_examples(engine, settings, [
            NewExample(text, label, labeled_at=T0 + timedelta(days=7 * week), source=f"source {week}")
            for text, label in rows])
    return settings, engine


# --- the TF-IDF baseline -----------------------------------------------------------------------------
def test_tfidf_baseline_is_fitted_on_exactly_the_training_rows(tmp_path, monkeypatch) -> None:
    from data.held_out import held_out_set
    from data.pull import pull_new_rows
    from data.quarantine_table import quarantined_ids
    from models import baseline
    from validation import quarantine
    from validation.batch_checks import FlaggedRow

    settings, engine = _store(tmp_path)
    batch = pull_new_rows(engine, settings)
    train = batch.training_rows
    quarantined = int(train["id"].iloc[0])
    quarantine.quarantine_rows(engine, settings, [FlaggedRow(quarantined, (("test_check", "a test's reason"),))])
    assert quarantined in quarantined_ids(engine, settings)
    fitted: list[list[str]] = []
    real_fit = baseline.fit_tfidf_baseline
    monkeypatch.setattr(baseline, "fit_tfidf_baseline",
                        lambda texts, labels, seed=0: fitted.append(list(texts)) or real_fit(texts, labels, seed))

    batch = pull_new_rows(engine, settings)  # what the run trains on: without the quarantined row
    held_out = held_out_set(engine, settings, None, batch)
    rows = baseline.baseline_training_rows(settings, batch)
    scored = baseline.score_tfidf(rows, held_out, LABELS)

    expected = set(train["id"]) - {quarantined}
    assert set(rows["id"]) == expected
    assert not set(rows["id"]) & set(held_out.frame["id"])
    assert sorted(fitted[0]) == sorted(train[train["id"] != quarantined]["text"])
    assert scored is not None and scored.metrics.rows == held_out.size
    assert scored.metrics.accuracy > majority_baseline(held_out.frame["label"].tolist(), LABELS).accuracy
    # With a champion, the rows its lineage trained on and the new ones: what a from-scratch retrain uses.
    from tests.helpers import register_consumed

    first_week = batch.frame[batch.frame["source"] == "source 0"]
    register_consumed(settings, ids=first_week["id"])
    later = pull_new_rows(engine, settings, registry.lineage_of(engine))
    assert set(later.frame["source"]) == {"source 1"}
    assert set(baseline.baseline_training_rows(settings, later)["id"]) == expected


def test_first_model_must_beat_the_tfidf_baseline_unless_configured_otherwise() -> None:
    truth = ["positive"] * 6 + ["negative"] * 4
    majority = majority_baseline(truth, LABELS)
    challenger = evaluate_predictions(truth, ["positive"] * 8 + ["negative"] * 2, LABELS)  # 0.8
    tfidf = evaluate_predictions(truth, truth[:9] + ["positive"], LABELS)  # 0.9
    refused = decide(challenger, None, majority, PromotionPolicy(), tfidf=tfidf)
    assert not refused.promote and "TF-IDF" in refused.reason
    assert decide(challenger, None, majority, PromotionPolicy(first_model_baseline="majority"), tfidf=tfidf).promote


# --- slices ------------------------------------------------------------------------------------------
def test_held_out_set_carries_the_source_and_slices_score_it(tmp_path) -> None:
    from data.held_out import held_out_set
    from data.pull import pull_new_rows

    settings, engine = _store(tmp_path)
    batch = pull_new_rows(engine, settings)
    frame = held_out_set(engine, settings, None, batch).frame
    assert set(frame["source"]) == {"source 0", "source 1"}
    slices = slice_scores(frame, frame["label"].tolist())
    assert set(slices["source"]) == {"source 0", "source 1"}
    assert set(slices["week"]) == {"2026-W02", "2026-W03"}
    assert all(score.accuracy == 1.0 for table in slices.values() for score in table.values())


def _slices(old: float, new: float, rows: int = 60):
    return {"source": {"old": SliceScore(rows, old), "new": SliceScore(rows, new)}}


def test_slice_guard_refuses_a_challenger_that_drops_one_source() -> None:
    truth = ["positive"] * 60 + ["negative"] * 60
    champion = evaluate_predictions(truth, truth[:100] + ["positive"] * 20, LABELS)
    challenger = evaluate_predictions(truth, truth[:110] + ["positive"] * 10, LABELS)  # better overall
    majority = majority_baseline(truth, LABELS)
    slices = (_slices(old=0.80, new=0.99), _slices(old=0.90, new=0.80))
    assert decide(challenger, champion, majority, PromotionPolicy(), slices=slices).promote  # guard off
    refused = decide(challenger, champion, majority, PromotionPolicy(max_slice_drop=0.05), slices=slices)
    assert not refused.promote and "source old accuracy drops 0.100" in refused.reason
    assert decide(challenger, champion, majority, PromotionPolicy(max_slice_drop=0.15), slices=slices).promote
    small = (_slices(0.80, 0.99, rows=20), _slices(0.90, 0.80, rows=20))  # too few rows to judge
    assert decide(challenger, champion, majority, PromotionPolicy(max_slice_drop=0.05), slices=small).promote


# --- behaviour ---------------------------------------------------------------------------------------
SUITE = {"tests": [
    {"name": "praise", "kind": "mft", "label": "positive", "templates": ["a {w} film"],
     "fill": {"w": ["good", "great", "fine", "nice"]}},
    {"name": "robust", "kind": "inv", "perturb": ["casing", "url"], "cases": ["a good film", "a bad film"]},
    {"name": "complaint", "kind": "dir", "label": "negative", "append": [" bad"], "cases": ["a film"]},
]}


def _keyword_model(positive_words: set[str]):
    """P(positive) from counted keywords: 'bad' pulls it down."""
    def predict(texts: list[str]) -> np.ndarray:
        scores = []
        for text in texts:
            words = text.lower().split()
            score = 0.5 + 0.3 * sum(w in positive_words for w in words) - 0.3 * words.count("bad")
            scores.append(min(max(score, 0.01), 0.99))
        p = np.array(scores)
        return np.stack([1 - p, p], axis=1)
    return predict


def test_behaviour_suite_pass_rates_per_test() -> None:
    suite = parse_suite(SUITE, LABELS)
    result = run_suite(suite, _keyword_model({"good", "great", "fine", "nice"}), LABELS)
    assert [(t.name, t.kind, t.passed, t.cases) for t in result.tests] == [
        ("praise", "mft", 4, 4), ("robust", "inv", 2, 2), ("complaint", "dir", 1, 1)]
    weaker = run_suite(suite, _keyword_model({"good"}), LABELS)
    assert weaker.tests[0].passed == 1  # 'a great film' etc. are 0.5: negative wins the argmax tie


def test_gate_refuses_a_challenger_that_breaks_mft_cases_the_champion_passes() -> None:
    truth = ["positive"] * 5 + ["negative"] * 5
    champion = evaluate_predictions(truth, truth[:8] + ["positive", "positive"], LABELS)
    challenger = evaluate_predictions(truth, truth, LABELS)  # better on the held-out set
    majority = majority_baseline(truth, LABELS)
    suite = parse_suite(SUITE, LABELS)
    champion_run = run_suite(suite, _keyword_model({"good", "great", "fine", "nice"}), LABELS)
    challenger_run = run_suite(suite, _keyword_model({"good"}), LABELS)
    comparison = compare(challenger_run, champion_run)
    assert len(comparison.regressions) == 3
    refused = decide(challenger, champion, majority, PromotionPolicy(), behaviour=comparison)
    assert not refused.promote and "fails 3 of the 7 suite cases the champion passes" in refused.reason
    tolerant = PromotionPolicy(max_behaviour_regressions=0.5)
    assert decide(challenger, champion, majority, tolerant, behaviour=comparison).promote
    same = compare(champion_run, champion_run)
    assert decide(challenger, champion, majority, PromotionPolicy(), behaviour=same).promote


def _fixed_model(probabilities: dict[str, float]):
    """P(positive) looked up per text (0.5 for any other text)."""
    def predict(texts: list[str]) -> np.ndarray:
        p = np.array([probabilities.get(text, 0.5) for text in texts])
        return np.stack([1 - p, p], axis=1)
    return predict


def test_behaviour_margins_say_how_firmly_each_case_passes() -> None:
    suite = parse_suite({"tests": [
        {"name": "praise", "kind": "mft", "label": "positive", "cases": ["firm", "hair", "wrong"]},
        {"name": "robust", "kind": "inv", "perturb": ["casing"], "cases": ["Steady"]},
        {"name": "more", "kind": "dir", "label": "positive", "append": ["!"], "cases": ["up"]},
    ]}, LABELS)
    result = run_suite(suite, _fixed_model({"firm": 0.9, "hair": 0.52, "wrong": 0.3, "Steady": 0.8,
                                            "STEADY": 0.6, "steady": 0.7, "up": 0.5, "up!": 0.58}), LABELS)
    assert result.passed == [True, True, False, True, True]
    assert np.allclose(result.margins, [0.8, 0.04, -0.4, 0.2, 0.08])  # inv: its weakest text, 0.6 - 0.4
    assert result.firmly_passed(0.1) == [True, False, False, True, False]


def _more_accurate_challenger_and_ten_case_suite():
    """A challenger more accurate than its champion (so only the behaviour gate can refuse it), the
    majority baseline, and a suite of ten positive MFT cases "text 0" ... "text 9"."""
    truth = ["positive"] * 5 + ["negative"] * 5
    champion = evaluate_predictions(truth, truth[:8] + ["positive", "positive"], LABELS)
    challenger = evaluate_predictions(truth, truth, LABELS)
    suite = parse_suite({"tests": [{"name": "praise", "kind": "mft", "label": "positive",
                                    "cases": [f"text {i}" for i in range(10)]}]}, LABELS)
    return challenger, champion, majority_baseline(truth, LABELS), suite


def test_gate_protects_only_cases_the_champion_passes_by_the_margin() -> None:
    challenger, champion, majority, suite = _more_accurate_challenger_and_ten_case_suite()
    # The champion passes all ten: two firmly (0.9), eight by a hair (0.52); the challenger fails
    # one firm case and all eight hair-width ones.
    firm_and_hair = {f"text {i}": 0.9 if i < 2 else 0.52 for i in range(10)}
    champion_run = run_suite(suite, _fixed_model(firm_and_hair), LABELS)
    challenger_run = run_suite(suite, _fixed_model({"text 1": 0.95}), LABELS)  # the rest read 0.5: negative
    noisy = compare(challenger_run, champion_run, margin=0.1)
    assert (noisy.regressions, len(noisy.near_misses), noisy.champion_firm) == ([0], 8, 2)
    refused = decide(challenger, champion, majority, PromotionPolicy(), behaviour=noisy)
    assert not refused.promote  # 1 of the 2 firm cases lost: above 5%
    assert "fails 1 of the 2 suite cases the champion passes by a margin of 0.1 or more" in refused.reason
    keeps_firm = run_suite(suite, _fixed_model({"text 0": 0.9, "text 1": 0.9}), LABELS)
    kept = compare(keeps_firm, champion_run, margin=0.1)
    allowed = decide(challenger, champion, majority, PromotionPolicy(), behaviour=kept)
    assert allowed.promote and "0 the champion passes by a margin of 0.1 or more" in allowed.reason
    assert "(8 more it passed by less)" in allowed.reason
    every_pass = compare(keeps_firm, champion_run, margin=0.0)  # margin 0: every passed case counts
    assert not decide(challenger, champion, majority, PromotionPolicy(), behaviour=every_pass).promote


def test_gate_net_of_fixes_weighs_losses_against_cases_newly_passed() -> None:
    challenger, champion, majority, suite = _more_accurate_challenger_and_ten_case_suite()
    # The champion passes texts 0-4 firmly and fails 5-9; the challenger loses 0 and 1, passes 5-8
    # firmly and 9 by a hair (not a fix).
    champion_run = run_suite(suite, _fixed_model({f"text {i}": 0.9 for i in range(5)}), LABELS)
    challenger_run = run_suite(suite, _fixed_model({**{f"text {i}": 0.9 for i in (2, 3, 4, 5, 6, 7, 8)},
                                                    "text 9": 0.52}), LABELS)
    comparison = compare(challenger_run, champion_run, margin=0.1)
    assert (comparison.regressions, comparison.fixes) == ([0, 1], [5, 6, 7, 8])
    one_way = decide(challenger, champion, majority, PromotionPolicy(), behaviour=comparison)
    assert not one_way.promote and "fails 2 of the 5 suite cases" in one_way.reason
    assert comparison.summary().endswith("fails, 4 it newly passes")  # the report and `history -v` show fixes
    net = decide(challenger, champion, majority, PromotionPolicy(behaviour_net_of_fixes=True), behaviour=comparison)
    assert net.promote and "4 it newly passes" in net.reason
    fewer_fixes = compare(run_suite(suite, _fixed_model({f"text {i}": 0.9 for i in (2, 3, 4, 5)}), LABELS),
                          champion_run, margin=0.1)
    refused = decide(challenger, champion, majority, PromotionPolicy(behaviour_net_of_fixes=True),
                     behaviour=fewer_fixes)
    assert not refused.promote and "and fixes 1: 1 net" in refused.reason  # 2 lost - 1 fixed > 5% of 5


def test_invariance_perturbations_are_generated_from_the_text() -> None:
    variants = perturbations("Mary paid 20 dollars at https://x.io/a", ["typo", "name", "number", "url", "casing"])
    assert any("Mary" not in v and "paid" in v for v in variants)  # a changed name
    assert any("20" not in v and "Mary" in v for v in variants)  # a changed number
    assert any("https://t.co/" in v for v in variants)  # the URL replaced
    assert "MARY PAID 20 DOLLARS AT HTTPS://X.IO/A" in variants
    assert perturbations("plain", ["name", "number"]) == []  # nothing to change: no case
    assert perturbations("Mary paid", ["name"], seed=3) == perturbations("Mary paid", ["name"], seed=3)


def test_a_bad_suite_names_the_test(tmp_path) -> None:
    with pytest.raises(ValueError, match="test 'x'.*label 'happy'"):
        parse_suite({"tests": [{"name": "x", "kind": "mft", "label": "happy", "cases": ["t"]}]}, LABELS)
    with pytest.raises(ValueError, match="test 'y'.*uses \\['w'\\]"):
        parse_suite({"tests": [{"name": "y", "kind": "mft", "label": "positive", "templates": ["{w}"]}]}, LABELS)
    with pytest.raises(ValueError, match="kind must be one of"):
        parse_suite({"tests": [{"name": "z", "kind": "xyz", "cases": ["t"]}]}, LABELS)
    bad = tmp_path / "suite.yaml"
    bad.write_text("tests: [unclosed")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_suite(bad, LABELS)


def test_the_demo_suite_loads_for_both_label_sets() -> None:
    from retrain.demo import SENTIMENT_SUITE

    for labels in (LABELS, ("negative", "neutral", "positive")):
        suite = load_suite(SENTIMENT_SUITE, labels)
        assert {case.kind for case in suite.cases} == {"mft", "inv", "dir"} and len(suite.cases) > 50


# --- replay ------------------------------------------------------------------------------------------
def test_replay_sample_is_stratified_by_label_and_source() -> None:
    rng = np.random.default_rng(0)
    pool = pd.DataFrame({
        "id": np.arange(1000),
        "label": rng.choice(["negative", "positive"], size=1000, p=[0.7, 0.3]),
        "source": rng.choice(["airline", "sports", "tech"], size=1000, p=[0.6, 0.3, 0.1]),
        "labeled_at": pd.Timestamp("2026-01-05"),
    })
    chosen = replay_sample(pool, 200, seed=1)
    assert len(chosen) == len(set(chosen)) == 200
    picked = pool[pool["id"].isin(chosen)]
    expected = strata(pool).value_counts(normalize=True)
    got = strata(picked).value_counts(normalize=True).reindex(expected.index, fill_value=0)
    assert (got - expected).abs().max() <= 1 / 200 + 1e-9  # every stratum within rounding of its share
    assert replay_sample(pool, 200, seed=1) == chosen and replay_sample(pool, 200, seed=2) != chosen
    assert replay_sample(pool, 0) == [] and len(replay_sample(pool, 5000)) == 1000


def test_replay_falls_back_to_the_week_without_a_source() -> None:
    pool = pd.DataFrame({"id": range(4), "label": ["a"] * 4, "source": [None] * 4,
                         "labeled_at": pd.to_datetime(["2026-01-05", "2026-01-05", "2026-01-12", "2026-01-12"])})
    assert set(strata(pool)) == {"a\x1f2026-W02", "a\x1f2026-W03"}
    picked = pool.set_index("id").loc[replay_sample(pool, 2)]
    assert picked["labeled_at"].nunique() == 2


def test_replay_rows_come_from_before_the_champion_and_are_recorded(tmp_path, make_champion) -> None:
    from data.ledger import Watermark
    from data.pull import pull_new_rows
    from models.replay import with_replay

    settings, engine = _store(tmp_path, weeks=1)
    first = pull_new_rows(engine, settings)
    champion = make_champion(settings, first.end)
    from data.store import NewExample, insert_examples
    insert_examples(engine, settings, [NewExample(text, label, labeled_at=T0 + timedelta(days=7), source="new")
                                       for text, label in sentiment_rows(40, seed=9)])
    batch = pull_new_rows(engine, settings, registry.lineage_of(engine))
    warm = settings.with_overrides(challenger_from="champion")  # a warm start and its replayed sample
    rows, replayed, refit = with_replay(warm.with_overrides(replay_fraction=0.5), champion, batch)
    older = set(first.training_rows["id"])
    assert len(replayed) == round(len(batch.training_rows) * 0.5) and set(replayed) <= older and not refit
    assert set(rows["id"]) == set(batch.training_rows["id"]) | set(replayed)
    assert with_replay(warm.with_overrides(replay_fraction=0.0), champion, batch)[1:] == ([], False)
    assert isinstance(champion.watermark, Watermark)
    # A refit replays every row the lineage trained on, whatever the share; the row cap still caps it.
    base = settings.with_overrides(challenger_from="base", replay_fraction=0.0)
    rows, replayed, refit = with_replay(base, champion, batch)
    assert refit and set(replayed) == older and set(rows["id"]) == set(batch.training_rows["id"]) | older
    assert len(with_replay(base.with_overrides(replay_max_rows=5), champion, batch)[1]) == 5
    # `auto` refits while the new and older rows number at most the cap; a first model is no refit.
    every = len(batch.training_rows) + len(older)
    assert [with_replay(settings.with_overrides(challenger_from="auto", refit_max_rows=most), champion, batch)[2]
            for most in (every, every - 1)] == [True, False]
    assert with_replay(base, None, batch)[1:] == ([], False)


def test_replay_and_baseline_read_only_what_they_use(tmp_path, make_champion) -> None:
    """The replay pool carries no texts, and the baseline reads only the newest rows it trains on;
    both give what reading every row the lineage trained on would."""
    from data.consumed import trained_rows, trained_strata
    from data.pull import pull_new_rows

    settings, engine = _store(tmp_path, weeks=3)
    make_champion(settings, pull_new_rows(engine, settings).end)
    lineage = registry.lineage_of(engine)
    every = trained_rows(engine, settings, lineage)
    pool = trained_strata(engine, settings, lineage)
    assert "text" not in pool.columns and len(every) > 50
    pd.testing.assert_frame_equal(pool, every[["id", "label", "labeled_at", "source"]])
    newest = every.sort_values(["labeled_at", "id"]).iloc[-25:].sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(trained_rows(engine, settings, lineage, newest=25), newest)
    chosen = replay_sample(pool, 30, seed=3)
    pd.testing.assert_frame_equal(trained_rows(engine, settings, lineage, ids=chosen),
                                  every[every["id"].isin(chosen)].reset_index(drop=True))
    assert trained_rows(engine, settings, lineage, newest=0).empty


# --- the run's report --------------------------------------------------------------------------------
def test_report_shows_baseline_slices_and_behaviour() -> None:
    from models.scores import Scored, Scores
    from tasks.report import RunReport, render_markdown

    truth = ["positive", "negative"] * 30
    frame = pd.DataFrame({"label": truth, "source": ["a"] * 30 + ["b"] * 30,
                          "labeled_at": pd.Timestamp("2026-01-05")})

    def scored(predicted):
        return Scored(evaluate_predictions(truth, predicted, LABELS), predicted,
                      slices=slice_scores(frame, predicted))

    suite = parse_suite(SUITE, LABELS)
    behaviour = compare(run_suite(suite, _keyword_model({"good"}), LABELS),
                        run_suite(suite, _keyword_model({"good", "great", "fine", "nice"}), LABELS))
    scores = Scores(truth, scored(truth), scored(["positive"] * 60), majority_baseline(truth, LABELS),
                    tfidf=scored(truth[:30] + ["negative"] * 30), behaviour=behaviour)
    report = RunReport(rows_pulled=60, rows_trained=50, checks_passed=3, checks_total=3, held_out_rows=60,
                       held_out_hash="0" * 64, champion_version=1, champion_accuracy=0.5, challenger_version=2,
                       challenger_accuracy=1.0, baseline_accuracy=0.5, promoted=False, decision="kept champion",
                       reason="r", train_seconds=1.0, examples_per_second=1.0, tfidf_accuracy=0.75)
    markdown = render_markdown(report, scores.challenger.metrics, scores.champion.metrics, scores=scores)
    assert "| TF-IDF + logistic regression | 0.7500 |" in markdown
    assert "| slice | rows | champion v1 | challenger v2 | TF-IDF + LR |" in markdown
    assert "| source a | 30 | 0.5000 | 1.0000 | 1.0000 |" in markdown
    assert "| source b | 30 | 0.5000 | 1.0000 | 0.5000 |" in markdown
    assert "| praise (mft) | 4/4 (100%) | 1/4 (25%) |" in markdown
    assert "3 the champion passes and the challenger fails" in markdown
