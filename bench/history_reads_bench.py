"""What a weekly run reads of the table's history: each read timed on a 1M-row PostgreSQL table.

    .venv/bin/python bench/history_reads_bench.py [--rows 1000000] [--url postgresql+psycopg://...]

Builds, in a scratch schema (dropped at the end), a table of ``--rows`` rows that version 1, the
champion, consumed entirely (every fifth row held out), and times each read a run makes of the
champion's data: the data checks' reference for a 2,000-row batch (the stored rows sharing a
normalised-text key with it and SQL aggregates of all of them; the first check keys every consumed
row once, a week's check only those consumed since), the held-out set, replay's pool and the TF-IDF
baseline's rows, with the full read they replaced beside the reference and replay's pool. A read
whose time grows with ``--rows`` is a weekly cost that follows the table's history instead of the
week: run it at two sizes to see which.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from datetime import timedelta

import pandas as pd
import sqlalchemy as sa
from pull_bench import EPOCH, FILL, scratch_schema  # run as a script: bench/ is on the path

from data.consumed import consumed_rows, trained_rows, trained_strata
from data.held_out import held_out_set
from data.ledger import Lineage, Watermark
from data.pull import LabeledBatch
from data.settings import Settings
from data.store import create_schema
from validation.batch_expectations import ReferenceData
from validation.gate import reference_for

CONSUME = sa.text("""
    INSERT INTO retrain_ledger (source_table, row_id, version, role)
    SELECT 'labeled_examples', id, 1, CASE WHEN id % 5 = 0 THEN 'held_out' ELSE 'trained' END FROM labeled_examples
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=Settings().baseline_max_rows)
    args = parser.parse_args()

    settings = Settings(database_url=args.url)
    with scratch_schema(args.url) as engine:
        create_schema(engine, settings)
        with engine.begin() as conn:
            conn.execute(FILL, {"epoch": EPOCH, "rows": args.rows})
            conn.execute(CONSUME)
            conn.execute(sa.text("ANALYZE"))
        lineage = Lineage((1,), Watermark(EPOCH + timedelta(seconds=args.rows), args.rows))

        def full_reference() -> object:
            rows = consumed_rows(engine, settings, lineage)
            return ReferenceData(rows[["id", "text", "label", "split"]]).keyed

        # A week's batch: 2,000 texts, half of them copies of stored ones (the checks find those).
        texts = [f"tweet number {g} about self-driving cars" for g in range(1, args.rows, args.rows // 1000)]
        texts += [f"a new tweet, number {g}" for g in range(2000 - len(texts))]
        batch = LabeledBatch(frame=pd.DataFrame({"text": texts}), source_table=settings.table, lineage=lineage)

        reads: list[tuple[str, Callable[[], object]]] = [
            ("replaced: every consumed row, normalised", full_reference),
            ("data checks' reference, first check: keys all", lambda: reference_for(engine, settings, batch)),
            ("data checks' reference, a week's check", lambda: reference_for(engine, settings, batch)),
            ("held-out set: every held-out row and its hash", lambda: held_out_set(engine, settings, lineage)),
            ("replay's pool (ids, labels, times, sources)", lambda: trained_strata(engine, settings, lineage)),
            ("  replaced: every trained row, texts too", lambda: trained_rows(engine, settings, lineage)),
            (f"baseline's rows: the newest {args.baseline_rows:,}",
             lambda: trained_rows(engine, settings, lineage, newest=args.baseline_rows)),
        ]
        print(f"{args.rows:,} rows consumed by the champion ({args.rows // 5:,} held out), PostgreSQL")
        for name, read in reads:
            started = time.perf_counter()
            read()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{name:<50} {time.perf_counter() - started:6.1f} s   peak RSS so far {peak:,.0f} MB", flush=True)


if __name__ == "__main__":
    main()
