"""The written-out BERT forward scores as the Keras layers do, and the graph tokenizer as the Python one."""

import functools

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from models.base_model import minilm_folder
from models.bert_forward import CLS, HEADS, MEAN
from models.classifier import _LOGITS_FUNCTIONS, build_classifier, logits_function
from models.encoding import _TOKENIZE_FUNCTIONS, EAGER_UP_TO, _traced_tokenize, batches, encode, tokenize
from models.fused_adam import apply_adam, fusable
from models.fused_forward import (
    bert_logits,
    bert_shape,
    frozen_logits_function,
    fused_logits_function,
    inference_weights,
)
from models.mean_pooled import MeanPooledBertTextClassifier, declared_pooling
from models.schedule import WarmupLinearDecay
from tests.helpers import sentiment_rows

LABELS = ("negative", "neutral", "positive")


def _task(dtype: str, activation=None, normalize_first: bool = False, pooling: str = CLS) -> keras.Model:
    keras.utils.set_random_seed(3)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=30522, num_layers=2, num_heads=4, hidden_dim=32,
                                             intermediate_dim=48, max_sequence_length=64, dtype=dtype)
    head = MeanPooledBertTextClassifier if pooling == MEAN else keras_hub.models.BertTextClassifier
    task = head(backbone, num_classes=3, preprocessor=None, activation=activation)
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


@functools.cache
def _batches() -> list[dict]:
    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(minilm_folder()))
    texts = [text for text, _ in sentiment_rows(40, seed=2)] + ["ok", "a much longer text " * 6]
    return [inputs for inputs, _ in batches(encode(tokenizer, texts, 64), batch_size=7, seed=1)]


@pytest.mark.parametrize("pooling", [CLS, MEAN])
@pytest.mark.parametrize(("dtype", "tolerance"), [("float32", 1e-5), ("mixed_bfloat16", 0.1)])
def test_written_out_forward_gives_the_keras_layers_logits(dtype, tolerance, pooling):
    task = _task(dtype, pooling=pooling)
    fused, weights = tf.function(fused_logits_function(task)), inference_weights(task)
    inputs = _batches()
    assert len({x["token_ids"].shape[1] for x in inputs}) > 1  # batches of several padded lengths
    for batch in inputs:
        expected = tf.cast(task(batch, training=False), tf.float32).numpy()
        np.testing.assert_allclose(fused(weights, batch).numpy(), expected, atol=tolerance)


@pytest.mark.parametrize("pooling", [CLS, MEAN])
def test_padding_does_not_change_a_rows_logits(pooling):
    task = _task("float32", pooling=pooling)
    fused, weights = fused_logits_function(task), inference_weights(task)
    batch = _batches()[0]
    wider = {key: np.pad(value, ((0, 0), (0, 8))) for key, value in batch.items()}  # 8 more padding tokens
    np.testing.assert_allclose(fused(weights, wider).numpy(), fused(weights, batch).numpy(), atol=1e-5)


def test_other_architectures_keep_the_keras_layers():
    assert bert_shape(_task("float32")) is not None
    assert fused_logits_function(_task("float32", activation="softmax")) is None
    task = _task("float32", normalize_first=True)
    assert fused_logits_function(task) is None
    batch = _batches()[0]
    np.testing.assert_allclose(logits_function(task)(batch).numpy(), task(batch, training=False).numpy(), atol=1e-6)


def test_scoring_reads_the_weights_as_they_are_when_asked_in_one_graph():
    task = _task("mixed_bfloat16")
    batch = _batches()[0]
    before = logits_function(task)(batch).numpy()
    kernel = task.get_layer("logits").kernel
    kernel.assign(kernel.numpy() + 1.0)  # as an epoch of fine-tuning changes them
    after = logits_function(task)(batch)
    np.testing.assert_allclose(after.numpy(), tf.cast(task(batch, training=False), tf.float32).numpy(), atol=0.1)
    assert np.abs(after.numpy() - before).max() > 0.5
    assert _LOGITS_FUNCTIONS[task].experimental_get_tracing_count() == 1


@pytest.mark.parametrize(("dtype", "tolerance"), [("float32", 1e-5), ("mixed_bfloat16", 0.1)])
def test_a_frozen_graph_scores_the_weights_it_was_built_with(dtype, tolerance):
    task = _task(dtype, pooling=MEAN)
    frozen = frozen_logits_function(task)
    before = [logits_function(task)(batch).numpy() for batch in _batches()]
    for batch, expected in zip(_batches(), before, strict=True):  # every padded length, one graph
        np.testing.assert_allclose(frozen(batch).numpy(), expected, atol=tolerance)
    kernel = next(w for w in task.weights if w.path == "transformer_layer_1/feedforward_output_dense/kernel")
    kernel.assign(kernel.numpy() * 2.0)
    batch = _batches()[0]
    np.testing.assert_allclose(frozen(batch).numpy(), before[0], atol=tolerance)  # its own copy of the kernels
    after = logits_function(task)(batch).numpy()
    assert np.abs(after - before[0]).max() > 0.5
    np.testing.assert_allclose(frozen_logits_function(task)(batch).numpy(), after, atol=tolerance)


def test_graph_tokenizer_gives_the_python_tokenizers_ids():
    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(minilm_folder()))
    texts = ["", " ", "Café NAÏVE résumé", "日本語のテキスト", "🙂🙃 emoji!!", "zero\u200bwidth", "tab\tnew\nline",
             "[CLS] [SEP] [MASK] [UNK]", "x" * 3000, "@user http://t.co/abc #tag 12,345.6", *[t for t, _ in
                                                                                        sentiment_rows(20, seed=4)]]
    expected = [list(ids) for ids in tokenizer(texts)]  # eager: KerasHub's pure-Python WordPiece
    assert [ids.tolist() for ids in _traced_tokenize(tokenizer, texts)] == expected


def test_a_few_texts_are_tokenized_without_tracing_many_with():
    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(minilm_folder()))
    texts = [t for t, _ in sentiment_rows(EAGER_UP_TO + 1, seed=5)]
    few = tokenize(tokenizer, texts[:3])
    assert tokenizer not in _TOKENIZE_FUNCTIONS  # `retrain predict "text"` pays no trace
    many = tokenize(tokenizer, texts)
    assert tokenizer in _TOKENIZE_FUNCTIONS
    assert [ids.tolist() for ids in many[:3]] == [ids.tolist() for ids in few]
    assert all(ids.dtype == np.int32 for ids in few + many[:3])


def _loss_gradients(task, batch, training: bool, seed=None):
    targets = tf.constant(np.arange(len(batch["token_ids"])) % 3)
    with tf.GradientTape() as tape:
        logits = bert_logits(task, bert_shape(task), batch, training=training, seed=seed)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, tf.cast(logits, tf.float32),
                                                                           from_logits=True))
    return logits, tape.gradient(loss, task.trainable_variables)


@pytest.mark.parametrize("pooling", [CLS, MEAN])
def test_training_forward_reaches_every_weight_and_drops_out(pooling):
    task = _task("float32", pooling=pooling)
    batch = _batches()[1]
    logits, gradients = _loss_gradients(task, batch, training=True, seed=keras.random.SeedGenerator(1))
    assert all(g is not None for g in gradients) and len(gradients) == len(task.trainable_variables)
    inference = fused_logits_function(task)(inference_weights(task), batch).numpy()
    assert np.abs(logits.numpy() - inference).max() > 1e-3  # dropout masks were drawn
    again, _ = _loss_gradients(task, batch, training=False)
    np.testing.assert_allclose(again.numpy(), inference, atol=1e-6)


def test_fused_adam_takes_keras_adams_steps():
    schedule = WarmupLinearDecay(1e-2, total_steps=6, warmup_steps=2)
    tasks = {"keras": _task("float32"), "fused": _task("float32")}
    optimizers = {name: keras.optimizers.Adam(schedule) for name in tasks}
    for name, optimizer in optimizers.items():
        optimizer.build(tasks[name].trainable_variables)
    assert fusable(optimizers["fused"]) and not fusable(keras.optimizers.Adam(1e-3, clipnorm=1.0))
    for batch in _batches()[:3]:
        for name, task in tasks.items():
            _, gradients = _loss_gradients(task, batch, training=False)
            if name == "fused":
                apply_adam(optimizers[name], gradients, task.trainable_variables)
            else:  # dense: Keras squares each repeated row of an embedding's sparse gradient apart
                optimizers[name].apply_gradients(zip([tf.convert_to_tensor(g) for g in gradients],
                                                     task.trainable_variables, strict=True))
    assert int(optimizers["fused"].iterations.numpy()) == 3
    moved = 0.0
    for keras_weight, fused_weight, start in zip(tasks["keras"].weights, tasks["fused"].weights,
                                                 _task("float32").weights, strict=True):
        # Steps of 1e-2: a wrong update is off by that much; float rounding, where a gradient is near
        # epsilon, by 1e-5 at most.
        np.testing.assert_allclose(fused_weight.numpy(), keras_weight.numpy(), atol=1e-4)
        moved = max(moved, float(np.abs(fused_weight.numpy() - start.numpy()).max()))
    assert moved > 1e-3  # the steps did move the weights
    for keras_state, fused_state in zip(optimizers["keras"].variables, optimizers["fused"].variables, strict=True):
        np.testing.assert_allclose(fused_state.numpy(), keras_state.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("layers", "pooling"), [(1, CLS), (3, CLS), (3, MEAN)])
def test_numpy_and_tensorflow_run_the_same_forward(layers, pooling):
    from models.bert_forward import NUMPY, BertShape, forward, random_weights, tensorflow_ops

    shape = BertShape(layers=layers, heads=4, hidden=32, epsilon=1e-12, dropout=0.1, head_dropout=0.1,
                      pooling=pooling)
    weights = random_weights(shape, vocabulary=50, positions=16, intermediate=48, classes=3, seed=layers)
    ids = np.array([[2, 7, 9, 11, 3, 0, 0], [2, 5, 3, 0, 0, 0, 0], [2, 8, 8, 8, 8, 8, 3]], dtype=np.int32)
    inputs = {"token_ids": ids, "padding_mask": ids != 0, "segment_ids": np.zeros_like(ids)}
    by_numpy = forward(weights, np.float32, shape, inputs, NUMPY)
    by_tensorflow = forward({k: tf.constant(v) for k, v in weights.items()}, tf.float32, shape, inputs,
                            tensorflow_ops()).numpy()
    assert by_numpy.dtype == np.float32 and by_numpy.shape == (3, 3)
    np.testing.assert_allclose(by_numpy, by_tensorflow, atol=1e-4, rtol=1e-5)
    # Padding is masked out: a row's logits do not depend on what its padding holds.
    padded = {**inputs, "token_ids": np.where(ids == 0, 42, ids)}
    np.testing.assert_allclose(forward(weights, np.float32, shape, padded, NUMPY), by_numpy, atol=1e-5)


@pytest.mark.parametrize("pooling", [CLS, MEAN])
def test_the_projections_training_bias_gives_the_same_logits_and_gradients(pooling):
    """On AMX, training adds the query-key-value bias in its own loop (``ArrayOps.training_bias_add``)."""
    import dataclasses

    from models.bert_forward import BertShape, forward, random_weights, tensorflow_ops
    from models.training_kernels import training_bias_add

    shape = BertShape(layers=2, heads=4, hidden=32, epsilon=1e-12, dropout=0.1, head_dropout=0.1, pooling=pooling)
    weights = {k: tf.Variable(v) for k, v in random_weights(shape, vocabulary=50, positions=16, intermediate=48,
                                                            classes=3, seed=4).items()}
    ids = np.array([[2, 7, 9, 11, 3, 0, 0], [2, 5, 3, 0, 0, 0, 0]], dtype=np.int32)
    inputs = {"token_ids": ids, "padding_mask": ids != 0, "segment_ids": np.zeros_like(ids)}

    def kept(x, rate, bias=None):  # training's branches without random masks: the same in both runs
        return x if bias is None else x + tf.cast(bias, x.dtype)

    def logits_and_gradients(ops):
        with tf.GradientTape() as tape:
            logits = forward(weights, tf.float32, shape, inputs, ops, kept)
        return logits, tape.gradient(logits, weights)

    ops = tensorflow_ops()
    by_matmul, matmul_gradients = logits_and_gradients(dataclasses.replace(ops, training_bias_add=None))
    by_loop, loop_gradients = logits_and_gradients(dataclasses.replace(ops, training_bias_add=training_bias_add()))
    np.testing.assert_allclose(by_loop.numpy(), by_matmul.numpy(), atol=1e-5)
    for path, gradient in matmul_gradients.items():
        if gradient is None:  # a weight the head does not read (the mean-pooled head has no pooler)
            assert loop_gradients[path] is None, path
            continue
        np.testing.assert_allclose(tf.convert_to_tensor(loop_gradients[path]).numpy(),
                                   tf.convert_to_tensor(gradient).numpy(), atol=1e-4, err_msg=path)
    assert float(tf.reduce_max(tf.abs(loop_gradients["transformer_layer_0/self_attention_layer/query/bias"]))) > 0


def test_a_base_model_is_pooled_as_its_folder_declares(tmp_path):
    assert declared_pooling(str(minilm_folder())) == MEAN  # all-MiniLM-L6-v2: sentence-transformers, mean
    assert declared_pooling("bert_base_en_uncased") == CLS  # a KerasHub preset name: its own [CLS] head
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(
        '{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}')
    assert declared_pooling(str(tmp_path)) == CLS
    # A saved task.json's class name tells serving (which imports no Keras) which head to run.
    assert {keras_hub.models.BertTextClassifier.__name__: CLS, MeanPooledBertTextClassifier.__name__: MEAN} == HEADS
    with pytest.raises(ValueError, match="pooling 'max'"):
        build_classifier("minilm", LABELS, sequence_length=32, pooling="max")


@pytest.mark.parametrize(("pooling", "head"), [("cls", "BertTextClassifier"), ("mean", "MeanPooledBertTextClassifier"),
                                               ("declared", "MeanPooledBertTextClassifier"),
                                               (None, "MeanPooledBertTextClassifier")])  # None: the default
def test_a_first_model_gets_the_head_retrain_pooling_names(pooling, head):
    import pandas as pd

    from data.pull import LabeledBatch
    from data.settings import Settings
    from models.starting_point import starting_point

    frame = pd.DataFrame({"id": [1, 2], "text": ["a lovely flight", "a dreadful one"],
                          "label": ["positive", "negative"], "split": ["train", "train"]})
    settings = Settings(labels=["negative", "positive"], precision="float32",
                        **({} if pooling is None else {"pooling": pooling}))
    classifier = starting_point(settings, None, LabeledBatch(frame=frame, source_table="labeled_examples"))
    assert type(classifier.task).__name__ == head  # MiniLM's folder declares the mean


@pytest.mark.parametrize(("dtype", "tolerance"), [(tf.float32, 1e-5), (tf.bfloat16, 0.07)])
def test_the_onednn_layer_norm_normalises_as_the_written_out_one(dtype, tolerance):
    from models.bert_forward import onednn_layer_norm

    random = np.random.RandomState(2)
    x = tf.cast(random.normal(3.0, 2.0, (37, 24)).astype(np.float32), dtype)
    gamma = tf.constant(random.normal(1.0, 0.3, 24), tf.float32)
    beta = tf.constant(random.normal(0.0, 0.3, 24), tf.float32)
    fused = tf.function(lambda x: onednn_layer_norm(x, gamma, beta, 1e-12), autograph=False,
                        input_signature=[tf.TensorSpec([None, 24], dtype)])  # any row count: the form that fuses
    rows = tf.cast(x, tf.float32)
    mean, variance = tf.nn.moments(rows, axes=[-1], keepdims=True)
    expected = (rows - mean) * tf.math.rsqrt(variance + 1e-12) * gamma + beta
    got = fused(x)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(), expected.numpy(), atol=tolerance)
