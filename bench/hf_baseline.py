"""The hand-written Hugging Face script we are measured against, run in a side environment.

Not part of retrain and never imported by it: ``bench/finetune_bench.py`` runs this file with the
Python of a separate virtual environment that has ``torch`` and ``transformers``
(``python3.11 -m venv /tmp/hf-venv && /tmp/hf-venv/bin/pip install torch==2.13.0 transformers``).

It does what a team's script does: BertForSequenceClassification from the same MiniLM folder,
AdamW at 2e-5, batch 32, each batch padded to its longest text, shuffled every epoch; then scores
the held-out rows. Input and output are JSON files, so the benchmark feeds both paths the same rows.

    python bench/hf_baseline.py ROWS.json RESULT.json
"""

from __future__ import annotations

import json
import sys
import time


def main(rows_path: str, result_path: str) -> None:
    import torch
    from transformers import BertForSequenceClassification, BertTokenizerFast

    with open(rows_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    torch.manual_seed(spec["seed"])
    torch.set_num_threads(spec["threads"])
    labels = spec["labels"]
    # The folder's tokenizer.json: transformers 5 builds an all-[UNK] tokenizer from vocab.txt alone.
    tokenizer = BertTokenizerFast.from_pretrained(spec["model_dir"])
    model = BertForSequenceClassification.from_pretrained(spec["model_dir"], num_labels=len(labels))
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec["learning_rate"])
    batch_size, max_length = spec["batch_size"], spec["sequence_length"]

    def encode(texts: list[str]) -> dict:
        return tokenizer(texts, padding="longest", truncation=True, max_length=max_length, return_tensors="pt")

    train_texts, train_y = spec["train_texts"], torch.tensor([labels.index(y) for y in spec["train_labels"]])
    model.train()
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(spec["seed"])
    for _ in range(spec["epochs"]):
        order = torch.randperm(len(train_texts), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            inputs = encode([train_texts[i] for i in index])
            loss = model(**inputs, labels=train_y[index]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    train_seconds = time.perf_counter() - started

    model.eval()
    test_texts = spec["test_texts"]
    predictions: list[int] = []
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(test_texts), batch_size):
            logits = model(**encode(test_texts[start:start + batch_size])).logits
            predictions += logits.argmax(-1).tolist()
    eval_seconds = time.perf_counter() - started
    truth = [labels.index(y) for y in spec["test_labels"]]
    accuracy = sum(p == t for p, t in zip(predictions, truth, strict=True)) / len(truth)
    result = {
        "train_examples_per_second": len(train_texts) * spec["epochs"] / train_seconds,
        "eval_examples_per_second": len(test_texts) / eval_seconds,
        "accuracy": accuracy,
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
