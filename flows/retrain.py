"""The weekly retraining runbook.

pull every row the champion's lineage has not consumed → validate them → fine-tune the
champion on them → score champion and challenger on the same held-out set → decide →
record the challenger with the rows it consumed → promote it only if it is better.

Run it: ``retrain run`` (or ``python -m flows.retrain``, or ``retrain(RunOptions(epochs=1))``);
every knob its options were not given takes its value from the ``RETRAIN_`` settings.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from data.labels import with_fixed_labels
from data.settings import NO_RUN_OPTIONS, RunOptions, Settings
from models.evaluation import majority_baseline
from tasks.checks import validate_new_rows
from tasks.data import load_held_out_set, pull_new_rows, read_champion
from tasks.evaluation import run_behaviour, score_baseline, score_challenger, score_champion
from tasks.promotion import Scores, decide_promotion, promote_challenger, register_challenger
from tasks.report import RunReport, publish_report, timed
from tasks.training import fine_tune_challenger


@flow(name="retrain", log_prints=False)
def retrain(options: RunOptions = NO_RUN_OPTIONS, triggered_by: str = "manual") -> RunReport:
    """Retrain the champion on newly labeled rows and promote the challenger if it is better.

    Args:
        options: This run's knobs; those it was not given come from the RETRAIN_ settings.
        triggered_by: Who started the run, recorded with the model version (cli, schedule, manual, ...).
    """
    settings = options.override(with_fixed_labels(Settings()))
    dry_run = options.dry_run
    logger = get_run_logger()

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
        held_out = load_held_out_set(settings, batch)

    with timed(steps, "fine-tune"):
        challenger = fine_tune_challenger(settings, champion, batch, dry_run)
    truth = held_out.frame["label"].tolist()
    with timed(steps, "score challenger"):
        challenger_scores = score_challenger(settings, challenger.classifier, held_out)
    with timed(steps, "score champion"):  # only held-out rows it has no recorded prediction for
        champion_scores = score_champion(settings, champion, held_out, dry_run) if champion else None
    with timed(steps, "baselines and behaviour"):
        tfidf = score_baseline(settings, batch, held_out)
        behaviour = run_behaviour(settings, challenger.classifier, champion)
    scores = Scores(truth=truth, challenger=challenger_scores, champion=champion_scores,
                    baseline=majority_baseline(truth, challenger.classifier.labels), tfidf=tfidf, behaviour=behaviour)

    decision = decide_promotion(settings, scores)
    with timed(steps, "register and promote"):
        version = register_challenger(settings, challenger, batch, held_out, scores, decision,
                                      dry_run, triggered_by)
        promoted = False
        if decision.promote and dry_run:
            logger.info("dry run: version %d would be promoted, champion left as is", version.version)
        elif decision.promote:
            promotion = promote_challenger(settings, version, champion.version if champion else None,
                                           actor=triggered_by)
            promoted = promotion is not None

    report = RunReport(
        rows_pulled=checks.row_count, rows_trained=challenger.training.train_rows,  # pulled: quarantined rows too
        rows_early_stopping=challenger.training.early_stopping_rows, rows_behind_watermark=batch.behind,
        checks_passed=len(checks.checks) - len(checks.failed), checks_total=len(checks.checks),
        held_out_rows=held_out.size, held_out_hash=held_out.content_hash,
        champion_version=champion.version if champion else None,
        champion_accuracy=scores.champion.metrics.accuracy if scores.champion else None,
        challenger_version=version.version, challenger_accuracy=scores.challenger.metrics.accuracy,
        baseline_accuracy=scores.baseline.accuracy, promoted=promoted,
        decision="promoted" if promoted else ("dry run" if dry_run else "kept champion"),
        reason=decision.reason if promoted or not decision.promote or dry_run
        else "another run switched the champion first; this challenger was not promoted",
        train_seconds=challenger.training.seconds,
        examples_per_second=challenger.training.examples_per_second,
        step_seconds={name: round(seconds, 2) for name, seconds in steps.items()},
        tfidf_accuracy=tfidf.metrics.accuracy if tfidf else None,
    )
    publish_report(report, scores.challenger.metrics, scores.champion.metrics if scores.champion else None,
                   decision.paired, scores)
    return report


if __name__ == "__main__":
    retrain()
