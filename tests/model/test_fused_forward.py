"""The written-out BERT forward scores as the Keras layers do, and the graph tokenizer as the Python one."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from models.base_model import minilm_folder
from models.classifier import logits_function
from models.encoding import _tokenize, batches, encode
from models.fused_forward import bert_shape, fused_logits_function
from tests.helpers import sentiment_rows

LABELS = ("negative", "neutral", "positive")


def _task(dtype: str, activation=None, normalize_first: bool = False) -> keras.Model:
    keras.utils.set_random_seed(3)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=30522, num_layers=2, num_heads=4, hidden_dim=32,
                                             intermediate_dim=48, max_sequence_length=64, dtype=dtype)
    task = keras_hub.models.BertTextClassifier(backbone, num_classes=3, preprocessor=None, activation=activation)
    # Weights of unit-scale activations and random biases and norms: an initialised model's zeros, ones
    # and small kernels give nearly the same logits for every text and would hide a wrong mask or bias.
    random = np.random.RandomState(5)
    for weight in task.weights:
        if weight.path.endswith("/gamma"):
            weight.assign(random.normal(1.0, 0.2, weight.shape))
        elif weight.path.endswith(("/bias", "/beta")):
            weight.assign(random.normal(0.0, 0.2, weight.shape))
        else:
            weight.assign(random.normal(0.0, 1.0 / np.sqrt(weight.shape[0] if "embedding" not in weight.path
                                                           else 1.0), weight.shape))
    if normalize_first:
        backbone.get_layer("transformer_layer_0").normalize_first = True
    return task


def _batches() -> list[dict]:
    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(minilm_folder()))
    texts = [text for text, _ in sentiment_rows(40, seed=2)] + ["ok", "a much longer text " * 6]
    return [inputs for inputs, _ in batches(encode(tokenizer, texts, 64), batch_size=7, seed=1)]


@pytest.mark.parametrize(("dtype", "tolerance"), [("float32", 1e-5), ("mixed_bfloat16", 0.1)])
def test_written_out_forward_gives_the_keras_layers_logits(dtype, tolerance):
    task = _task(dtype)
    fused = tf.function(fused_logits_function(task))
    inputs = _batches()
    assert len({x["token_ids"].shape[1] for x in inputs}) > 1  # batches of several padded lengths
    for batch in inputs:
        expected = tf.cast(task(batch, training=False), tf.float32).numpy()
        np.testing.assert_allclose(fused(batch).numpy(), expected, atol=tolerance)


def test_padding_does_not_change_a_rows_logits():
    fused = fused_logits_function(_task("float32"))
    batch = _batches()[0]
    wider = {key: np.pad(value, ((0, 0), (0, 8))) for key, value in batch.items()}  # 8 more padding tokens
    np.testing.assert_allclose(fused(wider).numpy(), fused(batch).numpy(), atol=1e-5)


def test_other_architectures_keep_the_keras_layers():
    assert bert_shape(_task("float32")) is not None
    assert fused_logits_function(_task("float32", activation="softmax")) is None
    task = _task("float32", normalize_first=True)
    assert fused_logits_function(task) is None
    batch = _batches()[0]
    np.testing.assert_allclose(logits_function(task)(batch).numpy(), task(batch, training=False).numpy(), atol=1e-6)


def test_graph_tokenizer_gives_the_python_tokenizers_ids():
    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(minilm_folder()))
    texts = ["", " ", "Café NAÏVE résumé", "日本語のテキスト", "🙂🙃 emoji!!", "zero\u200bwidth", "tab\tnew\nline",
             "[CLS] [SEP] [MASK] [UNK]", "x" * 3000, "@user http://t.co/abc #tag 12,345.6", *[t for t, _ in
                                                                                        sentiment_rows(20, seed=4)]]
    expected = [list(ids) for ids in tokenizer(texts)]  # eager: KerasHub's pure-Python WordPiece
    assert [ids.tolist() for ids in _tokenize(tokenizer, texts)] == expected
