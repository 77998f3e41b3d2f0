"""Pull 10k waiting rows from a 1M-row PostgreSQL table whose champion consumed the rest.

    .venv/bin/python bench/pull_bench.py [--rows 1000000] [--new 10000] [--late 100] [--url postgresql+psycopg://...]

Builds the table and a ledger in a scratch schema (dropped at the end): version 1, the champion,
consumed every row up to the watermark except ``--late`` rows (committed late, stamped behind it).
Prints the plan of the pull past the watermark (an index seek, then anti-joins against the ledger and
the quarantine), the time of that part and of the reconciliation behind the watermark, and the time
of reading the whole table for comparison.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa

from data.ledger import Lineage, Watermark
from data.pull import pull_new_rows, pull_query
from data.settings import Settings
from data.store import create_schema, examples_table

EPOCH = datetime(2026, 1, 1)
FILL = sa.text("""
    INSERT INTO labeled_examples (text, label, labeled_at, source)
    SELECT 'tweet number ' || g || ' about self-driving cars',
           CASE WHEN g % 3 = 0 THEN 'positive' ELSE 'negative' END,
           CAST(:epoch AS timestamp) + g * interval '1 second', 'bench'
    FROM generate_series(1, :rows) AS g
""")
# The champion (version 1) consumed every row up to the watermark, but the late ones.
CONSUME = sa.text("""
    INSERT INTO retrain_ledger (source_table, row_id, version, role)
    SELECT 'labeled_examples', id, 1, 'trained' FROM labeled_examples WHERE id <= :cut AND id % :every <> 0
""")


@contextmanager
def scratch_schema(url: str) -> Iterator[sa.Engine]:
    """An engine whose tables live in a new PostgreSQL schema, dropped with everything in it at the end."""
    schema = f"retrain_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--late", type=int, default=100, help="rows behind the watermark never consumed")
    args = parser.parse_args()

    settings = Settings(database_url=args.url)
    with scratch_schema(args.url) as engine:
        create_schema(engine, settings)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(FILL, {"epoch": EPOCH, "rows": args.rows})
            cut = args.rows - args.new
            conn.execute(CONSUME, {"cut": cut, "every": max(1, cut // max(args.late, 1))})
            conn.execute(sa.text("ANALYZE labeled_examples"))
            conn.execute(sa.text("ANALYZE retrain_ledger"))
            late = cut - conn.execute(sa.text("SELECT count(*) FROM retrain_ledger")).scalar_one()
        print(f"filled {args.rows:,} rows and a ledger of {cut - late:,} in {time.perf_counter() - started:.1f} s")

        after = Lineage((1,), Watermark(EPOCH + timedelta(seconds=cut), cut))
        table = examples_table(settings)
        query = pull_query(table, settings, after)
        compiled = query.compile(engine, compile_kwargs={"render_postcompile": True})
        with engine.connect() as conn:
            # The pull's own statement, with its bound parameters, prefixed by EXPLAIN.
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params))
        print("plan of the pull past the watermark:\n" + plan)
        uses_index = "ix_labeled_examples_watermark" in plan and "Seq Scan on labeled_examples" not in plan

        def best_of_3(query: sa.Select) -> float:
            times = []
            for _ in range(3):
                started = time.perf_counter()
                with engine.connect() as conn:
                    conn.execute(query).all()
                times.append(time.perf_counter() - started)
            return min(times)

        past = best_of_3(pull_query(table, settings, after))
        behind = best_of_3(pull_query(table, settings, after, behind=True))
        pull_times = []
        for _ in range(3):
            started = time.perf_counter()
            batch = pull_new_rows(engine, settings, after)
            pull_times.append(time.perf_counter() - started)
        assert len(batch.frame) == args.new + late and batch.behind == late, (len(batch.frame), batch.behind)
        started = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT id, text, label, labeled_at FROM labeled_examples")).all()
        full = time.perf_counter() - started
        pull = min(pull_times)
        print(f"past the watermark ({args.new:,} rows, index seek + anti-joins): {past * 1000:.0f} ms; "
              f"reconciliation behind it ({late:,} late rows among {cut:,}): {behind * 1000:.0f} ms")
        print(f"pull_new_rows, both parts into a frame ({len(batch.frame):,} rows of {args.rows:,}): "
              f"{pull * 1000:.0f} ms (best of 3); reading the whole table: {full * 1000:.0f} ms; "
              f"ratio {full / pull:.1f}x")
        print(f"index used, no sequential scan: {uses_index}")


if __name__ == "__main__":
    main()
