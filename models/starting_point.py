"""Where fine-tuning starts: the champion's weights (a warm start), or the base model the first time and
in a refit (``models.replay.refits``)."""

from __future__ import annotations

import keras

from data.pull import LabeledBatch
from data.settings import Settings
from models.artifacts import open_registered
from models.classifier import Classifier, build_classifier
from models.encoding import choose_sequence_length, token_lengths
from models.hardware import resolve_precision
from models.registry import ModelVersion


def starting_point(settings: Settings, champion: ModelVersion | None, batch: LabeledBatch,
                   refit: bool = False) -> Classifier:
    """The champion's weights (warm start), or a new classifier on the base model: the first time, and in a
    ``refit``, which trains on every row the champion's lineage trained on besides the new ones (``models.replay``)."""
    if champion is not None and tuple(settings.labels) != champion.labels:
        raise ValueError(
            f"RETRAIN_LABELS {settings.labels} differ from the champion's {list(champion.labels)}"
            f" (version {champion.version}); a new label set needs a new database or a rollback"
        )
    if champion is not None and not refit:
        # A loaded model's dropout seeds are drawn from Python's global random state as its layers are
        # rebuilt, and Prefect draws run names from that state too: without this, a warm start's
        # training depended on how many runs the process had named before (the demo's weeks differed).
        keras.utils.set_random_seed(settings.seed)
        return open_registered(settings, champion)
    classifier = build_classifier(settings.base_model, tuple(settings.labels),
                                  sequence_length=settings.max_sequence_length, seed=settings.seed,
                                  dtype=resolve_precision(settings.precision), pooling=settings.pooling)
    # The length is chosen from the first data (a refit's: this run's new rows), and kept by every warm start.
    lengths = token_lengths(classifier.tokenizer, batch.training_rows["text"].tolist())
    classifier.sequence_length = choose_sequence_length(lengths, settings.max_sequence_length)
    return classifier
