"""The run's report: what a person reads after a run, in the UI and in the terminal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from data.held_out import HeldOutSet
from data.pull import LabeledBatch
from models.behaviour import format_results
from models.challenger import Challenger
from models.evaluation import Metrics
from models.evaluation_sample import expected_half_width
from models.promotion import Decision, PairedComparison
from models.registry import ModelVersion
from models.scores import Scores
from models.slices import format_slices
from validation import ValidationReport


@dataclass(frozen=True)
class RunReport:
    """The outcome of one retraining run."""

    rows_pulled: int
    rows_trained: int
    checks_passed: int
    checks_total: int
    held_out_rows: int
    held_out_hash: str
    champion_version: int | None
    champion_accuracy: float | None
    challenger_version: int
    challenger_accuracy: float
    baseline_accuracy: float
    promoted: bool
    decision: str
    reason: str
    train_seconds: float
    examples_per_second: float
    rows_early_stopping: int = 0  # held back to pick the best epoch; they train in the next run
    rows_behind_watermark: int = 0  # waiting rows a timestamp order would have skipped
    step_seconds: dict[str, float] = field(default_factory=dict)  # wall time per step of the run
    tfidf_accuracy: float | None = None  # TF-IDF + logistic regression trained on this run's rows
    evaluation_rows: int = 0  # the held-out rows both models were scored on (the evaluation sample)
    evaluation_reason: str = ""  # why that many (models.evaluation_sample.SamplePlan.reason)
    target_half_width: float | None = None  # of the accuracy difference's interval, that the sample is sized for
    evaluation_confidence: float | None = None  # of that interval
    achieved_half_width: float | None = None  # of that interval on the rows' discordance (None without a champion)


def run_outcome(decision: Decision, promoted: bool, dry_run: bool) -> tuple[str, str]:
    """The run's decision in words, and why."""
    if promoted:
        return "promoted", decision.reason
    if dry_run:
        return "dry run", decision.reason
    if decision.promote:  # it passed the gate, but another run's challenger became champion first
        return "kept champion", "another run switched the champion first; this challenger was not promoted"
    return "kept champion", decision.reason


def run_report(
    *, checks: ValidationReport, batch: LabeledBatch, held_out: HeldOutSet, champion: ModelVersion | None,
    challenger: Challenger, scores: Scores, version: ModelVersion, decision: Decision, promoted: bool,
    dry_run: bool, steps: dict[str, float],
) -> RunReport:
    """The report of a finished run: its rows, checks, scores, evaluation sample, decision and time per step."""
    outcome, reason = run_outcome(decision, promoted, dry_run)
    plan, paired = scores.sample, decision.paired
    return RunReport(
        rows_pulled=checks.row_count, rows_trained=challenger.training.train_rows,  # pulled: quarantined rows too
        rows_early_stopping=challenger.training.early_stopping_rows, rows_behind_watermark=batch.behind,
        checks_passed=len(checks.checks) - len(checks.failed), checks_total=len(checks.checks),
        held_out_rows=held_out.size, held_out_hash=held_out.content_hash,
        champion_version=champion.version if champion else None,
        champion_accuracy=scores.champion.metrics.accuracy if scores.champion else None,
        challenger_version=version.version, challenger_accuracy=scores.challenger.metrics.accuracy,
        baseline_accuracy=scores.baseline.accuracy, promoted=promoted, decision=outcome, reason=reason,
        train_seconds=challenger.training.seconds,
        examples_per_second=challenger.training.examples_per_second,
        step_seconds={name: round(seconds, 2) for name, seconds in steps.items()},
        tfidf_accuracy=scores.tfidf.metrics.accuracy if scores.tfidf else None,
        evaluation_rows=len(scores.truth), evaluation_reason=plan.reason if plan else "",
        target_half_width=plan.target_half_width if plan else None,
        evaluation_confidence=plan.confidence if plan else None,
        achieved_half_width=achieved_half_width(paired, plan.confidence) if paired and plan else None,
    )


def achieved_half_width(paired: PairedComparison, confidence: float) -> float:
    """The half-width of the accuracy difference's interval at ``confidence`` on the rows scored, by the
    normal approximation the sample was sized with, at the discordance and difference measured."""
    discordant = paired.challenger_only_correct + paired.champion_only_correct
    return expected_half_width(paired.rows, discordant / paired.rows, confidence, paired.difference)


@contextmanager
def timed(steps: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to ``steps[name]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - started


def _interval(report: RunReport) -> str:
    """The accuracy difference's interval: achieved (with a champion) and targeted."""
    if report.target_half_width is None:
        return ""
    target = f"±{100 * report.target_half_width:.1f} points at {100 * report.evaluation_confidence:g}%"
    if report.achieved_half_width is None:
        return f"; no champion to compare, interval targeted {target}"
    return f"; accuracy-difference interval achieved ±{100 * report.achieved_half_width:.2f} points (targeted {target})"


def _metrics_rows(name: str, metrics: Metrics | None) -> list[str]:
    if metrics is None:
        return [f"| {name} | - | - |"]
    per_class = ", ".join(f"{label} F1 {m.f1:.3f} (R {m.recall:.3f})" for label, m in metrics.per_class.items())
    return [f"| {name} | {metrics.accuracy:.4f} | {per_class} |"]


def _quality_sections(scores: Scores, champion_name: str, challenger_name: str) -> list[str]:
    """Per-slice accuracy and behaviour-suite pass rates, as markdown tables."""
    models = {champion_name: scores.champion, challenger_name: scores.challenger, "TF-IDF + LR": scores.tfidf}
    present = {name: s.slices for name, s in models.items() if s is not None}
    lines: list[str] = []
    slice_rows = format_slices(present)
    if slice_rows:
        lines += ["", "Held-out accuracy per slice (source, week of arrival):", "",
                  f"| slice | rows | {' | '.join(present)} |", "|---|---|" + "---|" * len(present), *slice_rows]
    if scores.behaviour is not None:
        results = {champion_name: scores.behaviour.champion, challenger_name: scores.behaviour.challenger}
        shown = [name for name, r in results.items() if r is not None]
        lines += ["", f"Behaviour suite ({len(scores.behaviour.challenger.passed)} cases; "
                      f"{scores.behaviour.summary()}):", "",
                  f"| test | {' | '.join(shown)} |", "|---|" + "---|" * len(shown), *format_results(results)]
    return lines


def render_markdown(
    report: RunReport, challenger: Metrics, champion: Metrics | None, paired: PairedComparison | None = None,
    scores: Scores | None = None,
) -> str:
    """The champion-vs-challenger table as markdown (with slices and behaviour when ``scores`` is given)."""
    champion_name = f"champion v{report.champion_version}" if report.champion_version else "champion (none)"
    lines = [
        f"# Retraining run: {report.decision}",
        "",
        f"**{report.reason}**",
        "",
        f"- rows pulled: {report.rows_pulled} ({report.rows_trained} trained on, {report.rows_early_stopping} held "
        f"back for early stopping and trained next run; {report.rows_behind_watermark} from behind the watermark)",
        f"- data checks: {report.checks_passed}/{report.checks_total} passed",
        f"- held-out set: {report.held_out_rows} rows, content hash `{report.held_out_hash[:16]}`",
        *([f"- evaluation sample: {report.evaluation_reason}"
           + _interval(report)] if report.evaluation_reason else []),
        f"- fine-tuning: {report.train_seconds:.0f} s, {report.examples_per_second:.1f} examples/s",
        *([f"- time per step: {', '.join(f'{n} {s:.1f} s' for n, s in report.step_seconds.items())}"]
          if report.step_seconds else []),
        "",
        "| model | held-out accuracy | per class |",
        "|---|---|---|",
        *_metrics_rows(champion_name, champion),
        *_metrics_rows(f"challenger v{report.challenger_version}", challenger),
        *([f"| TF-IDF + logistic regression | {report.tfidf_accuracy:.4f} | |"]
          if report.tfidf_accuracy is not None else []),
        f"| majority-class baseline | {report.baseline_accuracy:.4f} | |",
        "",
        *([f"Accuracy difference {paired.difference:+.4f}, paired bootstrap 95% interval "
           f"[{paired.ci_low:+.4f}, {paired.ci_high:+.4f}]; exact McNemar p = {paired.p_value:.4f} "
           f"({paired.challenger_only_correct} rows only the challenger got right, "
           f"{paired.champion_only_correct} only the champion).", ""] if paired else []),
        "Confusion matrix of the challenger (rows: true, columns: predicted, in label order): "
        f"`{challenger.confusion}`",
        *(_quality_sections(scores, champion_name, f"challenger v{report.challenger_version}") if scores else []),
    ]
    return "\n".join(lines)


@task(name="publish report", cache_policy=NO_CACHE)
def publish_report(report: RunReport, scores: Scores, paired: PairedComparison | None = None) -> str:
    """Attach the champion-vs-challenger report to the flow run as a markdown artifact."""
    markdown = render_markdown(report, scores.challenger.metrics, scores.champion.metrics if scores.champion else None,
                               paired, scores)
    create_markdown_artifact(markdown, key="champion-vs-challenger",
                             description="Champion vs challenger on the held-out set")
    return markdown
