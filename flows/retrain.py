"""The weekly retraining runbook.

pull every row the champion's lineage has not consumed → validate them → fine-tune the
champion on them → score champion and challenger on the same evaluation sample of the
held-out set → decide → record the challenger with the rows it consumed → promote it only
if it is better.

Run it: ``retrain run`` (or ``python -m flows.retrain``, or ``retrain(RunOptions(epochs=1))``);
every knob its options were not given takes its value from the ``RETRAIN_`` settings.
"""

from __future__ import annotations

from prefect import flow

from data.labels import with_fixed_labels
from data.settings import NO_RUN_OPTIONS, RunOptions, Settings
from flows import FLOW_NAME
from models.scores import run_scores
from tasks.checks import validate_new_rows
from tasks.data import load_held_out_set, pull_new_rows, read_champion
from tasks.evaluation import (
    choose_evaluation_sample,
    run_behaviour,
    score_baseline,
    score_challenger,
    score_champion,
    size_sample_from_pilot,
)
from tasks.promotion import decide_promotion, promote_if_passed, register_challenger
from tasks.report import RunReport, publish_report, run_report, timed
from tasks.training import fine_tune_challenger


@flow(name=FLOW_NAME, log_prints=False)
def retrain(options: RunOptions = NO_RUN_OPTIONS, triggered_by: str = "manual") -> RunReport:
    """Retrain the champion on newly labeled rows and promote the challenger if it is better.

    Args:
        options: This run's knobs; those it was not given come from the RETRAIN_ settings.
        triggered_by: Who started the run, recorded with the model version (cli, schedule, manual, ...).
    """
    settings = options.override(with_fixed_labels(Settings()))
    dry_run = options.dry_run

    steps: dict[str, float] = {}  # wall seconds per step, for the report

    with timed(steps, "pull"):
        champion = read_champion(settings)
        batch = pull_new_rows(settings, champion)
    with timed(steps, "data checks"):
        checked = validate_new_rows(settings, batch, dry_run)  # quarantines rows that fail row checks
    batch, checks = checked.batch, checked.report
    if batch.training_rows.empty:  # only reachable with min_new_rows=0
        raise ValueError("no rows wait for the champion's lineage to train on")
    with timed(steps, "pull"):
        held_out = load_held_out_set(settings, batch)  # every held-out row: the ledger records them all
        evaluation = choose_evaluation_sample(settings, held_out, champion)
    sample = evaluation.rows  # what is scored: all of held_out, or as many rows as the target interval needs

    with timed(steps, "fine-tune"):
        challenger = fine_tune_challenger(settings, champion, batch, dry_run)
    pilot_challenger = pilot_champion = None
    if evaluation.pilot:  # a first champion has no paired record: how often the two disagree sizes the sample
        with timed(steps, "score challenger"):
            pilot_challenger = score_challenger(settings, challenger.classifier, sample)
        with timed(steps, "score champion"):
            pilot_champion = score_champion(settings, champion, sample, dry_run)
        evaluation = size_sample_from_pilot(settings, held_out, evaluation, pilot_challenger, pilot_champion)
        sample = evaluation.rows  # starts with the pilot's rows: neither model runs on them again
    with timed(steps, "score challenger"):
        challenger_scores = score_challenger(settings, challenger.classifier, sample, pilot_challenger)
    with timed(steps, "score champion"):  # only held-out rows it has no recorded prediction for
        champion_scores = score_champion(settings, champion, sample, dry_run, pilot_champion) if champion else None
    with timed(steps, "baselines and behaviour"):
        tfidf = score_baseline(settings, batch, sample)
        behaviour = run_behaviour(settings, challenger.classifier, champion)
    scores = run_scores(sample, challenger.classifier.labels, challenger_scores, champion_scores, tfidf, behaviour,
                        evaluation.plan)

    decision = decide_promotion(settings, scores)
    with timed(steps, "register and promote"):
        version = register_challenger(settings, challenger, batch, held_out, scores, decision, dry_run, triggered_by)
        promoted = promote_if_passed(settings, version, decision, champion, dry_run, actor=triggered_by)

    report = run_report(checks=checks, batch=batch, held_out=held_out, champion=champion, challenger=challenger,
                        scores=scores, version=version, decision=decision, promoted=promoted, dry_run=dry_run,
                        steps=steps)
    publish_report(report, scores, decision.paired)
    return report


if __name__ == "__main__":
    retrain()
