"""The champion from Python: ``from retrain import load_champion, load_version``.

A loaded model reads the same ``RETRAIN_`` settings as the command line (database, artifact store,
precision), and its files are verified against the sha256 the registry recorded before it is used.
It is loaded once; ``predict`` and ``predict_proba`` take lists of texts::

    from retrain import load_champion
    model = load_champion()
    model.predict(["what a lovely flight", "lost my luggage"])        # ['positive', 'negative']
    model.predict_proba(["what a lovely flight"])                     # array([[0.03, 0.97]]), model.labels order

>>> from data.settings import Settings
>>> load_champion(Settings(home="/nonexistent/retrain-home"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
data.store.MissingDatabase: no database at /nonexistent/retrain-home/retrain.db: run `retrain init` there first, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from data.labels import with_fixed_labels
from data.settings import Settings
from data.store import connect
from models import registry

if TYPE_CHECKING:
    import numpy as np

    from models.classifier import Classifier


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version, loaded and verified, ready to classify texts."""

    version: int
    labels: tuple[str, ...]
    sequence_length: int
    classifier: Classifier
    batch_size: int = 64

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, one row per text, columns in ``labels`` order (float32)."""
        from models.classifier import predict_proba  # lazy: imports TensorFlow (about 8 s)

        return predict_proba(self.classifier, self.classifier.encode(list(texts)), self.batch_size)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]


def _load(settings: Settings | None, pick: str | int) -> LoadedModel:
    from models.artifacts import open_registered  # lazy: loading a model imports TensorFlow and Keras (about 8 s)

    settings = settings or Settings()
    engine = connect(settings, must_exist=True)  # loading a model never creates a database
    registry.require_registry(engine)
    settings = with_fixed_labels(settings)
    chosen: registry.ModelVersion | None = registry.champion(engine) if pick == "champion" else \
        registry.get_version(engine, int(pick))
    if chosen is None:
        raise LookupError("no champion yet: run `retrain run` first")
    if chosen.decision == registry.DRY_RUN:
        raise LookupError(f"version {chosen.version} is a dry run: it saved no model")
    classifier = open_registered(settings, chosen)
    return LoadedModel(version=chosen.version, labels=tuple(chosen.labels), sequence_length=chosen.sequence_length,
                       classifier=classifier, batch_size=settings.eval_batch_size)


def load_champion(settings: Settings | None = None) -> LoadedModel:
    """The current champion (settings: ``RETRAIN_`` variables unless given)."""
    return _load(settings, "champion")


def load_version(version: int, settings: Settings | None = None) -> LoadedModel:
    """Model version ``version`` of the registry, champion or not (``retrain history`` lists them)."""
    return _load(settings, version)
