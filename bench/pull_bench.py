"""Pull 10k new rows from a 1M-row PostgreSQL table: time it and show that the plan seeks the index.

    .venv/bin/python bench/pull_bench.py [--rows 1000000] [--new 10000] [--url postgresql+psycopg://...]

Builds the table in a scratch schema (dropped at the end), then prints the query plan of the
incremental pull, its wall time, and the time of a full scan for comparison.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from retrain.settings import Settings
from retrain.store import Watermark, create_schema, examples_table, pull_new_rows, pull_query

EPOCH = datetime(2026, 1, 1)
FILL = sa.text("""
    INSERT INTO labeled_examples (text, label, labeled_at, source)
    SELECT 'tweet number ' || g || ' about self-driving cars',
           CASE WHEN g % 3 = 0 THEN 'positive' ELSE 'negative' END,
           CAST(:epoch AS timestamp) + g * interval '1 second', 'bench'
    FROM generate_series(1, :rows) AS g
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    args = parser.parse_args()

    schema = f"retrain_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.url)
    with admin.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    engine = sa.create_engine(args.url, connect_args={"options": f"-csearch_path={schema}"})
    settings = Settings(database_url=args.url)
    try:
        create_schema(engine, settings)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(FILL, {"epoch": EPOCH, "rows": args.rows})
            conn.execute(sa.text("ANALYZE labeled_examples"))
        print(f"filled {args.rows:,} rows in {time.perf_counter() - started:.1f} s")

        cut = args.rows - args.new
        after = Watermark(EPOCH + timedelta(seconds=cut), cut)
        query = pull_query(examples_table(settings), settings, after)
        compiled = query.compile(engine)
        with engine.connect() as conn:
            # The pull's own statement, with its bound parameters, prefixed by EXPLAIN.
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params))
        print("plan of the incremental pull:\n" + plan)
        uses_index = "ix_labeled_examples_watermark" in plan and "Seq Scan" not in plan

        pull_times = []
        for _ in range(3):
            started = time.perf_counter()
            batch = pull_new_rows(engine, settings, after)
            pull_times.append(time.perf_counter() - started)
        assert len(batch.frame) == args.new, len(batch.frame)
        started = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT id, text, label, labeled_at FROM labeled_examples")).all()
        full = time.perf_counter() - started
        pull = min(pull_times)
        print(f"pull of {args.new:,} new rows from {args.rows:,}: {pull * 1000:.0f} ms (best of 3); "
              f"reading the whole table: {full * 1000:.0f} ms; ratio {full / pull:.1f}x")
        print(f"index used, no sequential scan: {uses_index}")
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()


if __name__ == "__main__":
    main()
