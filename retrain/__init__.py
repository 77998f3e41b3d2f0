"""retrain: weekly retraining of a BERT text classifier, orchestrated by Prefect.

The package holds what sits beside the pipeline's layers: settings, the data layer, the
CSV importer, the demo and the command line.

Public Python API (lazy: importing ``retrain`` does not start TensorFlow)::

    from retrain import load_champion, load_version
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrain.api import LoadedModel, load_champion, load_version

__all__ = ["LoadedModel", "load_champion", "load_version"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from retrain import api

        return getattr(api, name)
    raise AttributeError(f"module 'retrain' has no attribute {name!r}")
