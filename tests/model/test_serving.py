"""A saved version scored from its weight files without building the Keras model (`retrain predict`,
``load_champion``): every weight read is the one Keras loads, and the probabilities are the Keras model's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from models.classifier import build_classifier, load_classifier, predict_proba, save_classifier
from models.serving import Scorer, load_scorer, probabilities_of
from models.version_files import ArtifactIntegrityError
from tests.helpers import sentiment_rows

LABELS = ("negative", "neutral", "positive")


@pytest.fixture(scope="module", params=["cls", "mean"])
def saved(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[str, str]:
    """A three-layer tiny BERT (the encoders' saved names are numbered from the second on) whose every
    weight is random, so that no two weights of a shape are equal and a mixed-up name shows: (folder, sha256).
    Built on a base folder that declares no pooling (KerasHub's [CLS] head) or, as MiniLM's does, the mean."""
    import keras
    import keras_hub

    from models.base_model import minilm_folder

    base = tmp_path_factory.mktemp("tiny-bert-3")
    keras.utils.set_random_seed(11)
    keras_hub.models.BertBackbone(vocabulary_size=30522, num_layers=3, num_heads=2, hidden_dim=32,
                                  intermediate_dim=64, max_sequence_length=64).save_to_preset(str(base))
    keras_hub.models.BertTokenizer(vocabulary=str(minilm_folder() / "vocab.txt"),
                                   lowercase=True).save_to_preset(str(base))
    if request.param == "mean":
        (base / "1_Pooling").mkdir()
        shutil.copy(minilm_folder() / "1_Pooling" / "config.json", base / "1_Pooling" / "config.json")
    classifier = build_classifier(str(base), LABELS, sequence_length=32, seed=2, pooling="declared")
    rng = np.random.default_rng(0)
    for weight in classifier.task.weights:
        weight.assign(rng.normal(0.0, 0.2, weight.shape).astype(np.float32))
    folder = tmp_path_factory.mktemp("version") / "v1"
    return str(folder), save_classifier(classifier, folder)


def test_every_weight_read_is_the_one_keras_loads(saved):
    folder, sha256 = saved
    scorer = load_scorer(folder, sha256, "float32")
    task = load_classifier(folder, sha256).task
    keras_weights = {w.path: w.numpy() for w in task.weights}

    assert isinstance(scorer, Scorer) and scorer.labels == LABELS and scorer.sequence_length == 32
    # Each head loads as the class that saved it, whichever BERT class KerasHub would guess.
    assert type(task).__name__ == json.loads((Path(folder) / "task.json").read_text())["class_name"]
    assert scorer.shape.pooling == ("mean" if type(task).__name__.startswith("MeanPooled") else "cls")
    assert set(scorer.weights) == set(keras_weights)
    for name, value in keras_weights.items():
        np.testing.assert_array_equal(scorer.weights[name], value, err_msg=name)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-6), ("mixed_bfloat16", 2e-2)])
def test_its_probabilities_are_the_keras_models(saved, dtype, tolerance):
    folder, sha256 = saved
    scorer = load_scorer(folder, sha256, dtype)
    classifier = load_classifier(folder, sha256, dtype)
    texts = [t for t, _ in sentiment_rows(40, seed=8)] + ["", "Café NAÏVE", "x " * 200]

    # One batch: NumPy, in float32 whatever the precision (float32 Keras is the reference).
    exact = predict_proba(load_classifier(folder, sha256, "float32"), classifier.encode(texts), 64)
    np.testing.assert_allclose(probabilities_of(scorer, texts, 64), exact, atol=1e-5)
    assert "traced_logits" not in vars(scorer)
    # Several batches, or a run's scoring: the traced TensorFlow graph at the precision asked for.
    for batch_size, numpy_for_one_batch in ((8, True), (64, False)):
        expected = predict_proba(classifier, classifier.encode(texts), batch_size)
        np.testing.assert_allclose(probabilities_of(scorer, texts, batch_size, numpy_for_one_batch), expected,
                                   atol=tolerance)
    assert "traced_logits" in vars(scorer)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("mixed_bfloat16", 2e-2)])
def test_many_rows_are_scored_by_a_graph_with_the_kernels_frozen_in(saved, dtype, tolerance, monkeypatch):
    from models.fused_forward import frozen_logits_function

    folder, sha256 = saved
    scorer, classifier = load_scorer(folder, sha256, dtype), load_classifier(folder, sha256, dtype)
    texts = [t for t, _ in sentiment_rows(40, seed=9)]
    expected = predict_proba(classifier, classifier.encode(texts), 8)  # the weights passed as arguments
    built = []
    monkeypatch.setattr("models.classifier.frozen_logits_function", lambda task: built.append(task) or
                        frozen_logits_function(task))
    for module in ("models.serving", "models.classifier"):  # as on AMX, from this many rows on
        monkeypatch.setattr(f"{module}.frozen_pays", lambda rows, dtype: rows >= len(texts))

    np.testing.assert_allclose(probabilities_of(scorer, texts, 8), expected, atol=tolerance)
    assert "frozen_logits" in vars(scorer) and "traced_logits" not in vars(scorer)
    np.testing.assert_allclose(predict_proba(classifier, classifier.encode(texts), 8), expected, atol=tolerance)
    assert built == [classifier.task]
    # One row fewer: the graph with the weights as arguments again (the rule goes by the call's size).
    probabilities_of(scorer, texts[1:], 8)
    assert "traced_logits" in vars(scorer)


def test_a_few_texts_are_scored_without_importing_tensorflow(saved):
    folder, sha256 = saved
    probe = ("import json, sys; from models.serving import load_scorer, probabilities_of; "
             "scorer = load_scorer(sys.argv[1], sys.argv[2], 'auto'); "
             "p = probabilities_of(scorer, ['what a lovely day', 'never again']); "
             "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules, "
             "'p': p.tolist()}))")
    done = subprocess.run([sys.executable, "-c", probe, folder, sha256], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    result = json.loads(done.stdout.splitlines()[-1])
    assert not result["tf"] and not result["keras"]
    classifier = load_classifier(folder, sha256, "float32")
    expected = predict_proba(classifier, classifier.encode(["what a lovely day", "never again"]))
    np.testing.assert_allclose(result["p"], expected, atol=1e-5)


def test_a_changed_file_is_refused_and_another_architecture_loads_as_keras(saved, tmp_path):
    folder, sha256 = saved
    changed = shutil.copytree(folder, tmp_path / "changed")
    task = json.loads((changed / "task.json").read_text())
    task["config"]["activation"] = "softmax"  # the written-out forward returns logits only
    (changed / "task.json").write_text(json.dumps(task))

    with pytest.raises(ArtifactIntegrityError, match="refusing to load a changed artifact"):
        load_scorer(changed, sha256, "float32")
    assert load_scorer(changed, None, "float32") is None

    renamed = shutil.copytree(folder, tmp_path / "renamed")
    with h5py.File(renamed / "model.weights.h5", "r+") as weights:  # as another KerasHub version might name it
        weights.move("layers/transformer_encoder_2", "layers/transformer_layer_2")
    assert load_scorer(renamed, None, "float32") is None


def test_a_tokenizer_the_plain_python_one_cannot_reproduce_loads_as_keras(saved, tmp_path):
    folder, _ = saved
    special = shutil.copytree(folder, tmp_path / "special")
    tokenizer = json.loads((special / "tokenizer.json").read_text())
    tokenizer["config"]["special_tokens_in_strings"] = True  # "[SEP]" in a text would be one token
    (special / "tokenizer.json").write_text(json.dumps(tokenizer))
    assert load_scorer(special, None, "float32") is None  # open_for_scoring then loads it as Keras
    assert load_classifier(special, None).labels == LABELS


def test_scorers_of_one_architecture_share_one_traced_graph(saved):
    from models.serving import _traced_forward

    folder, sha256 = saved
    texts = [t for t, _ in sentiment_rows(20, seed=3)]
    first, second = load_scorer(folder, sha256, "float32"), load_scorer(folder, sha256, "float32")
    expected = probabilities_of(first, texts, 8)
    np.testing.assert_allclose(probabilities_of(second, texts, 8, numpy_for_one_batch=False), expected, atol=1e-6)
    shapes = tuple(sorted((name, value.shape) for name, value in first.weights.items()))
    # Both scorers, several batch shapes: one trace (a run opens the champion several times).
    assert _traced_forward(first.shape, "float32", shapes).experimental_get_tracing_count() == 1
