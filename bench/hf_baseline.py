"""The hand-written Hugging Face script we are measured against, run in a side environment.

Not part of retrain and never imported by it: ``bench/finetune_bench.py`` runs this file with the
Python of a separate virtual environment that has ``torch`` and ``transformers``
(``python3.11 -m venv /tmp/hf-venv && /tmp/hf-venv/bin/pip install torch==2.13.0 transformers``).

It does what a team's script does: a BERT classifier from the same MiniLM folder,
AdamW at 2e-5, batch 32, each batch padded to its longest text; then scores the held-out rows.
The ``strong`` variant (the default) switches on what a practitioner who wants speed switches
on, the options the Trainer offers: bf16 autocast where the hardware multiplies bf16 natively
(``bf16=True``: an x86 CPU with AVX512_BF16 or AMX, a GPU of compute capability 8.0+),
length-grouped training batches (``group_by_length``, the Trainer's sampler) and held-out rows
scored sorted by length at the same eval batch size as retrain. The ``plain`` variant is the
float32 script: shuffled batches, held-out rows in file order, scored 32 at a time. Either takes the
head retrain is given (the spec's ``pooling``, as ``RETRAIN_POOLING``): BERT's [CLS] pooler, or, for a
sentence-transformers model such as MiniLM's all-MiniLM-L6-v2, dropout and a linear layer over the mean
of its token vectors, as sentence-transformers' users write it.
Its recipe is its own, AdamW at a constant 2e-5, unless the spec gives retrain's (``"optimizer": "adam"``
and a ``"warmup_fraction"``: ``bench/finetune_bench.py --recipe retrain``).

Input and output are JSON files, so the benchmark feeds both paths the same rows; one spec may
hold several rounds (seeds), run one after the other in this process::

    python bench/hf_baseline.py ROWS.json RESULT.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def bf16_native(torch) -> bool:
    """Whether this machine multiplies bfloat16 natively (where autocast to it pays)."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_capability() >= (8, 0)
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split(":", 1)[1].split()))


def mean_pooled_classifier(model_dir: str, num_labels: int, torch, transformers):
    """BertModel without its pooler, then dropout and a linear layer over the mean of the unpadded rows
    (the head's initialisation: BERT's, normal with std 0.02 and zero bias)."""

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = transformers.BertModel.from_pretrained(model_dir, add_pooling_layer=False)
            config = self.bert.config
            self.dropout = torch.nn.Dropout(config.hidden_dropout_prob)
            self.classifier = torch.nn.Linear(config.hidden_size, num_labels)
            torch.nn.init.normal_(self.classifier.weight, std=config.initializer_range)
            torch.nn.init.zeros_(self.classifier.bias)

        def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None):
            rows = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).float()
            logits = self.classifier(self.dropout((rows.float() * mask).sum(1) / mask.sum(1)))
            loss = None if labels is None else torch.nn.functional.cross_entropy(logits.float(), labels)
            return transformers.modeling_outputs.SequenceClassifierOutput(loss=loss, logits=logits)

    return MeanPooled()


def length_grouped_order(lengths: list[int], batch_size: int, generator, torch) -> list[list[int]]:
    """The Trainer's ``group_by_length`` sampler: a random permutation cut into megabatches of 50
    batches, each sorted by length (longest first), the longest batch of all moved to the front."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    mega = batch_size * 50
    megabatches = [sorted(order[i:i + mega], key=lambda j: -lengths[j]) for i in range(0, len(order), mega)]
    batches = [m[i:i + batch_size] for m in megabatches for i in range(0, len(m), batch_size)]
    longest = max(range(len(batches)), key=lambda b: lengths[batches[b][0]])
    batches[0], batches[longest] = batches[longest], batches[0]
    return batches


def make_optimizer(spec: dict, model, torch):
    """The script's AdamW (weight decay 0.01, epsilon 1e-8: PyTorch's defaults), or with ``"optimizer":
    "adam"`` retrain's: Adam without decay at Keras's epsilon 1e-7 (to run both paths on one recipe)."""
    if spec.get("optimizer", "adamw") == "adam":
        return torch.optim.Adam(model.parameters(), lr=spec["learning_rate"], eps=1e-7)
    return torch.optim.AdamW(model.parameters(), lr=spec["learning_rate"])


def warmup_linear_decay(spec: dict, optimizer, rows: int, torch):
    """With ``"warmup_fraction"`` in the spec, retrain's schedule (``models.schedule``): linear warm-up to
    the learning rate over that share of the steps, then linear decay to 0; else None (constant)."""
    if spec.get("warmup_fraction") is None:
        return None
    total = -(-rows // spec["batch_size"]) * spec["epochs"]
    warmup = max(0, min(round(total * spec["warmup_fraction"]), total - 1))

    def factor(step: int) -> float:  # step s trains at s + 1 warm-up steps' rate, as retrain's does
        rate = (step + 1) / max(1, warmup) if step < warmup else (total - step) / (total - warmup)
        return min(max(rate, 0.0), 1.0)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def run_round(spec: dict, seed: int, torch, transformers) -> dict:
    """Fine-tune the base model on the spec's rows with ``seed`` and score its held-out rows."""
    strong = spec.get("variant", "strong") == "strong"
    torch.manual_seed(seed)
    labels = spec["labels"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bf16 = strong and bf16_native(torch)
    # The folder's tokenizer.json: transformers 5 builds an all-[UNK] tokenizer from vocab.txt alone.
    tokenizer = transformers.BertTokenizerFast.from_pretrained(spec["model_dir"])
    if spec.get("pooling") == "mean":
        model = mean_pooled_classifier(spec["model_dir"], len(labels), torch, transformers)
    else:
        model = transformers.BertForSequenceClassification.from_pretrained(spec["model_dir"], num_labels=len(labels))
    model.to(device)
    optimizer = make_optimizer(spec, model, torch)
    batch_size, max_length = spec["batch_size"], spec["sequence_length"]
    eval_batch_size = spec["eval_batch_size"] if strong else batch_size

    def autocast():
        return torch.autocast(device, dtype=torch.bfloat16, enabled=bf16)

    def collate(ids: list[list[int]]) -> dict:  # DataCollatorWithPadding: pad to the batch's longest
        return tokenizer.pad({"input_ids": ids}, padding="longest", return_tensors="pt").to(device)

    started = time.perf_counter()
    # Tokenized once, as datasets.map does, and timed with training as retrain's path is.
    train_ids = tokenizer(spec["train_texts"], truncation=True, max_length=max_length)["input_ids"]
    train_y = torch.tensor([labels.index(y) for y in spec["train_labels"]], device=device)
    schedule = warmup_linear_decay(spec, optimizer, len(train_ids), torch)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(spec["epochs"]):
        if strong:
            order = length_grouped_order([len(ids) for ids in train_ids], batch_size, generator, torch)
        else:
            shuffled = torch.randperm(len(train_ids), generator=generator).tolist()
            order = [shuffled[i:i + batch_size] for i in range(0, len(shuffled), batch_size)]
        for index in order:
            with autocast():
                loss = model(**collate([train_ids[i] for i in index]), labels=train_y[index]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if schedule is not None:
                schedule.step()
    train_seconds = time.perf_counter() - started

    model.eval()
    started = time.perf_counter()
    test_ids = tokenizer(spec["test_texts"], truncation=True, max_length=max_length)["input_ids"]
    rows = sorted(range(len(test_ids)), key=lambda i: len(test_ids[i])) if strong else list(range(len(test_ids)))
    predictions = [0] * len(test_ids)
    with torch.inference_mode(), autocast():
        for start in range(0, len(rows), eval_batch_size):
            index = rows[start:start + eval_batch_size]
            for i, p in zip(index, model(**collate([test_ids[i] for i in index])).logits.argmax(-1).tolist(),
                            strict=True):
                predictions[i] = p
    eval_seconds = time.perf_counter() - started
    truth = [labels.index(y) for y in spec["test_labels"]]
    return {
        "seed": seed,
        "train_examples_per_second": len(train_ids) * spec["epochs"] / train_seconds,
        "eval_examples_per_second": len(test_ids) / eval_seconds,
        "accuracy": sum(p == t for p, t in zip(predictions, truth, strict=True)) / len(truth),
        "bf16": bf16,
        "mean_tokens": sum(len(ids) for ids in test_ids) / len(test_ids),
    }


def main(rows_path: str, result_path: str) -> None:
    import torch
    import transformers

    with open(rows_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    torch.set_num_threads(spec["threads"])
    rounds = [run_round(spec, seed, torch, transformers) for seed in spec["seeds"]]
    result = {"rounds": rounds, "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
