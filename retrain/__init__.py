"""retrain: weekly retraining of a BERT text classifier, orchestrated by Prefect.

The top floor (ARCHITECTURE.md): the command line, the demo and the Python API. It may import
every floor below (``deploy``, ``flows``, ``tasks``, ``models``, ``validation``, ``data``) and
nothing imports it.

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
