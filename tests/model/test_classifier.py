"""The classifier on a tiny random BERT with the real vocabulary: build, train, save, reload."""

import gc
import logging
import weakref

import numpy as np
import pytest

from models.classifier import build_classifier, load_classifier, predict_proba, save_classifier
from models.training import TrainingConfig, fine_tune
from models.version_files import ArtifactIntegrityError
from tests.helpers import sentiment_rows

LABELS = ("negative", "positive")


@pytest.fixture(scope="module")
def trained(tiny_base_model):
    classifier = build_classifier(tiny_base_model, LABELS, sequence_length=32, seed=1)
    rows = sentiment_rows(240, seed=1)
    result = fine_tune(classifier, [t for t, _ in rows], [label for _, label in rows],
                       TrainingConfig(epochs=10, batch_size=16, learning_rate=1e-3, seed=1,
                                                      early_stopping_fraction=0.0))
    return classifier, result


def _accuracy(classifier, rows) -> float:
    probabilities = predict_proba(classifier, classifier.encode([t for t, _ in rows]))
    return float(np.mean([LABELS[i] == label for i, (_, label) in zip(probabilities.argmax(1), rows, strict=True)]))


def test_fine_tuning_learns_a_learnable_task(tiny_base_model, trained):
    classifier, result = trained
    untrained = build_classifier(tiny_base_model, LABELS, sequence_length=32, seed=1)
    held_out = sentiment_rows(100, seed=99)
    assert result.epochs_run == 10 and result.train_rows == 240
    assert _accuracy(classifier, held_out) >= 0.9 > _accuracy(untrained, held_out) + 0.2


def test_saved_model_reloads_with_its_trained_head(tmp_path, trained):
    classifier, _ = trained
    sha256 = save_classifier(classifier, tmp_path / "v1")
    reloaded = load_classifier(tmp_path / "v1", expected_sha256=sha256)
    texts = [t for t, _ in sentiment_rows(20, seed=5)]
    before = predict_proba(classifier, classifier.encode(texts))
    after = predict_proba(reloaded, reloaded.encode(texts))
    assert reloaded.labels == LABELS and reloaded.sequence_length == 32
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_saved_model_has_no_optimizer_state(tmp_path, trained):
    classifier, _ = trained
    save_classifier(classifier, tmp_path / "v1")
    weights = sum(v.numpy().nbytes for v in classifier.task.weights)
    on_disk = sum(p.stat().st_size for p in (tmp_path / "v1").rglob("*.h5"))
    # backbone weights plus the head; Adam's two moments would triple it
    assert on_disk < 1.5 * weights


def test_changed_artifact_is_refused(tmp_path, trained):
    classifier, _ = trained
    sha256 = save_classifier(classifier, tmp_path / "v1")
    with open(tmp_path / "v1" / "task.weights.h5", "r+b") as handle:
        handle.seek(-64, 2)
        handle.write(b"\x00" * 64)
    with pytest.raises(ArtifactIntegrityError, match="refusing to load"):
        load_classifier(tmp_path / "v1", expected_sha256=sha256)


def test_unknown_training_label_is_refused(trained):
    classifier, _ = trained
    with pytest.raises(ValueError, match="neutral"):
        fine_tune(classifier, ["meh"], ["neutral"], TrainingConfig(epochs=1))


def test_sequence_length_beyond_the_base_model_is_refused(tiny_base_model):
    with pytest.raises(ValueError, match="exceeds"):
        build_classifier(tiny_base_model, LABELS, sequence_length=256)


@pytest.mark.slow
def test_interrupted_fine_tuning_resumes_from_its_last_checkpoint(tmp_path, tiny_base_model):
    rows = sentiment_rows(120, seed=3)
    texts, labels = [t for t, _ in rows], [label for _, label in rows]
    config = TrainingConfig(epochs=4, batch_size=16, learning_rate=1e-3, seed=3, early_stopping_fraction=0.0)

    def crash_after_second_epoch(report):
        if report.epoch == 2:
            raise KeyboardInterrupt("simulated crash after epoch 2's checkpoint")

    first = build_classifier(tiny_base_model, LABELS, sequence_length=32, seed=3)
    with pytest.raises(KeyboardInterrupt):
        fine_tune(first, texts, labels, config, on_epoch=crash_after_second_epoch, checkpoint_dir=tmp_path / "ckpt")
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["epoch-2"]

    trained_epochs = []
    second = build_classifier(tiny_base_model, LABELS, sequence_length=32, seed=3)
    result = fine_tune(second, texts, labels, config, on_epoch=lambda r: trained_epochs.append(r.epoch),
                       checkpoint_dir=tmp_path / "ckpt")
    assert result.resumed_from_epoch == 2 and trained_epochs == [3, 4] and result.epochs_run == 4
    assert [r.epoch for r in result.epochs] == [1, 2, 3, 4]


@pytest.mark.slow
def test_mixed_bfloat16_learns_and_its_artifact_loads_in_either_precision(tmp_path, tiny_base_model):
    classifier = build_classifier(tiny_base_model, LABELS, sequence_length=32, seed=1, dtype="mixed_bfloat16")
    rows = sentiment_rows(240, seed=1)
    fine_tune(classifier, [t for t, _ in rows], [label for _, label in rows],
              TrainingConfig(epochs=10, batch_size=16, learning_rate=1e-3, seed=1, early_stopping_fraction=0.0))
    held_out = sentiment_rows(100, seed=99)
    assert classifier.task.backbone.dtype_policy.name == "mixed_bfloat16"
    assert _accuracy(classifier, held_out) >= 0.9

    sha256 = save_classifier(classifier, tmp_path / "bf16")
    texts = [t for t, _ in held_out]
    before = predict_proba(classifier, classifier.encode(texts))
    for dtype, tolerance in (("mixed_bfloat16", 1e-6), ("float32", 0.05)):  # float32 only rounds differently
        reloaded = load_classifier(tmp_path / "bf16", expected_sha256=sha256, dtype=dtype)
        assert reloaded.task.backbone.dtype_policy.name == dtype
        np.testing.assert_allclose(predict_proba(reloaded, reloaded.encode(texts)), before, atol=tolerance)


def test_one_batch_in_a_fresh_model_scores_eagerly_as_the_graph_does(tmp_path, trained):
    from models.classifier import _LOGITS_FUNCTIONS

    classifier, _ = trained
    sha256 = save_classifier(classifier, tmp_path / "v1")
    reloaded = load_classifier(tmp_path / "v1", expected_sha256=sha256)
    encoded = reloaded.encode([t for t, _ in sentiment_rows(5, seed=6)])
    eager = predict_proba(reloaded, encoded, batch_size=8)
    assert reloaded.task not in _LOGITS_FUNCTIONS  # no graph traced for one batch
    traced = predict_proba(reloaded, encoded, batch_size=2)  # three batches: the graph
    assert reloaded.task in _LOGITS_FUNCTIONS
    np.testing.assert_allclose(eager, traced, atol=1e-5)


def _classifier_used_and_dropped(tiny_base_model) -> tuple:
    """Weak references to a classifier's task and tokenizer, both traced, after the classifier is dropped
    (in a function of its own: a frame's stale locals snapshot, which tracing takes, would hold it)."""
    from models.classifier import _LOGITS_FUNCTIONS
    from models.encoding import _TOKENIZE_FUNCTIONS, _traced_tokenize

    classifier = build_classifier(tiny_base_model, LABELS, sequence_length=32, seed=4)
    texts = [t for t, _ in sentiment_rows(20, seed=7)]
    predict_proba(classifier, classifier.encode(texts), batch_size=4)  # five batches: the traced graph
    _traced_tokenize(classifier.tokenizer, texts)
    assert classifier.task in _LOGITS_FUNCTIONS and classifier.tokenizer in _TOKENIZE_FUNCTIONS
    return weakref.ref(classifier.task), weakref.ref(classifier.tokenizer)


def test_a_dropped_classifier_is_freed_with_its_traced_graphs(tiny_base_model):
    # `retrain serve` runs every week's flow in one process: a cache that kept each week's models alive
    # would grow by a champion and a challenger a week.
    task, tokenizer = _classifier_used_and_dropped(tiny_base_model)
    gc.collect()
    assert task() is None and tokenizer() is None


def test_a_function_per_owner_traced_once_each_warns_of_no_retracing():
    # A run traces one scoring graph and one tokenizer per model; TensorFlow counts traces per code
    # object, and a shared one made the demo warn "triggered tf.function retracing" after five models.
    import tensorflow as tf

    from models.traced import traced_for

    class Owner:
        scale = 2.0

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        cache, owners = weakref.WeakKeyDictionary(), [Owner() for _ in range(12)]
        for owner in owners:
            double = traced_for(cache, owner, lambda it, x: x * it.scale)
            assert float(double(tf.constant(1.0))) + float(double(tf.constant(3.0))) == 8.0
            assert double.experimental_get_tracing_count() == 1
    finally:
        logger.removeHandler(handler)
    assert [record.getMessage() for record in records if "retracing" in record.getMessage()] == []


def test_batches_in_flight_give_one_at_a_time_probabilities_in_row_order(trained):
    from models.classifier import logits_function
    from models.probabilities import probabilities

    classifier, _ = trained
    texts = [t for t, _ in sentiment_rows(90, seed=11)]
    encoded = classifier.encode(texts)
    one_at_a_time = probabilities(logits_function(classifier.task), encoded, 8, len(LABELS), in_flight=1)
    for in_flight in (2, 3):
        np.testing.assert_array_equal(
            probabilities(logits_function(classifier.task), encoded, 8, len(LABELS), in_flight=in_flight),
            one_at_a_time)
    # Row order: each row scored alone gives its own row's probabilities.
    for row in (0, 45, 89):
        np.testing.assert_allclose(one_at_a_time[row], predict_proba(classifier, classifier.encode([texts[row]]))[0],
                                   atol=1e-5)

    def failing(inputs: dict) -> np.ndarray:
        if inputs["token_ids"].shape[1] == encoded.lengths.max():  # the batch of the longest rows
            raise ValueError("this batch cannot be scored")
        return np.zeros((len(inputs["token_ids"]), len(LABELS)))

    with pytest.raises(ValueError, match="this batch cannot be scored"):
        probabilities(failing, encoded, 8, len(LABELS), in_flight=2)
