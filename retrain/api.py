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
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from data.labels import with_fixed_labels
from data.settings import Settings
from data.store import connect
from models import registry

if TYPE_CHECKING:
    import numpy as np

    from models.classifier import Classifier
    from models.serving import Scorer


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version, loaded and verified, ready to classify texts."""

    version: int
    labels: tuple[str, ...]
    sequence_length: int
    model: Scorer | Classifier  # the weights in the written-out forward, or the Keras model for another architecture
    record: registry.ModelVersion = field(repr=False)
    settings: Settings = field(repr=False)
    batch_size: int = 64

    @cached_property
    def classifier(self) -> Classifier:
        """The version as a Keras model (``retrain export`` writes it out), built on first use: about 1.3 s
        that scoring does not need."""
        from models.artifacts import open_registered
        from models.classifier import Classifier

        return self.model if isinstance(self.model, Classifier) else open_registered(self.settings, self.record)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, one row per text, columns in ``labels`` order (float32)."""
        from models.serving import probabilities_of

        return probabilities_of(self.model, list(texts), self.batch_size)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]


def _load(settings: Settings | None, pick: str | int) -> LoadedModel:
    # Lazy: loading a model imports TensorFlow, Keras and KerasHub (about 5 s).
    from models.serving import open_for_scoring

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
    model = open_for_scoring(settings, chosen)  # checks the files against the recorded sha256
    return LoadedModel(version=chosen.version, labels=tuple(chosen.labels), sequence_length=chosen.sequence_length,
                       model=model, record=chosen, settings=settings, batch_size=settings.eval_batch_size)


def load_champion(settings: Settings | None = None) -> LoadedModel:
    """The current champion (settings: ``RETRAIN_`` variables unless given)."""
    return _load(settings, "champion")


def load_version(version: int, settings: Settings | None = None) -> LoadedModel:
    """Model version ``version`` of the registry, champion or not (``retrain history`` lists them)."""
    return _load(settings, version)
