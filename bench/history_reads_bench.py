"""What a weekly run reads of the table's history: each read timed on a 1M-row PostgreSQL table.

    .venv/bin/python bench/history_reads_bench.py [--rows 1000000] [--url postgresql+psycopg://...]

Builds, in a scratch schema (dropped at the end), a table of ``--rows`` rows that version 1, the
champion, consumed entirely (every fifth row held out), and times each read a run makes of the
champion's data: the data checks' reference (every consumed row, and its normalised text), the
held-out set, replay's pool and the TF-IDF baseline's rows, with the full read they replaced
beside the last two. A read whose time grows with ``--rows`` is a weekly cost that follows the
table's history instead of the week: run it at two sizes to see which.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from pull_bench import EPOCH, FILL, scratch_schema  # run as a script: bench/ is on the path

from data.consumed import consumed_rows, trained_rows, trained_strata
from data.held_out import held_out_set
from data.ledger import Lineage, Watermark
from data.settings import Settings
from data.store import create_schema
from validation.batch_expectations import ReferenceData

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

        def reference_keys() -> object:
            rows = consumed_rows(engine, settings, lineage)
            return ReferenceData(rows[["id", "text", "label", "split"]]).keyed

        reads: list[tuple[str, Callable[[], object]]] = [
            ("data checks' reference: every consumed row", lambda: consumed_rows(engine, settings, lineage)),
            ("  ... and its normalised texts", reference_keys),
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
