"""The champion from Python (load_champion / load_version), scoring a file with `retrain predict --file`,
and `retrain export` to a SavedModel that plain TensorFlow loads in a fresh process, without retrain."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from data.labels import fix_labels
from data.ledger import Watermark
from data.settings import Settings
from data.store import connect, create_bookkeeping_schema
from models import registry
from models.classifier import predict_proba
from models.version_files import ArtifactIntegrityError
from retrain import load_champion, load_version
from retrain.cli import main

LABELS = ("negative", "neutral", "positive")
TEXTS = ["what a lovely flight", "lost my luggage again", "the seats were ok", "crew was great, thanks!",
         "a text\nover two lines", ""]


@pytest.fixture(scope="module")
def saved_model(tiny_base_model: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A tiny classifier on three labels, saved as a version folder once: (folder, sha256)."""
    from models.artifacts import save_version
    from models.classifier import build_classifier

    classifier = build_classifier(tiny_base_model, LABELS, sequence_length=32, seed=3)
    return save_version(classifier, str(tmp_path_factory.mktemp("store")), "v-tiny")


def register(folder: str, sha256: str) -> registry.ModelVersion:
    """Record the folder as a version of this test's database and make it the champion."""
    settings = Settings()
    engine = connect(settings)
    registry.create_registry_schema(engine)
    fix_labels(engine, settings, LABELS)
    version = registry.register_version(engine, registry.NewVersion(
        base_model="tiny", artifact_uri=folder, artifact_sha256=sha256, labels=LABELS, sequence_length=32,
        window_after=None, window_end=Watermark(datetime(2026, 1, 5), 1), new_rows=0, train_rows=0, test_rows=0,
        test_set_hash="", accuracy=0.5, metrics={}, decision=registry.PROMOTED, reason="test", triggered_by="test"))
    registry.switch_champion(engine, version.version, None, "test", "test")
    return version


@pytest.fixture
def champion(saved_model) -> registry.ModelVersion:
    return register(*saved_model)


def test_load_champion_predicts_labels_and_probabilities_of_lists_of_texts(champion) -> None:
    model = load_champion()

    probabilities = model.predict_proba(TEXTS)

    assert model.version == champion.version and model.labels == LABELS and model.sequence_length == 32
    assert probabilities.shape == (len(TEXTS), 3) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # Scored from the weight files (models.serving), not by the Keras layers: the same probabilities, up to
    # bfloat16's rounding where the CPU has it (RETRAIN_PRECISION=auto; 2.3e-5 apart seen here).
    np.testing.assert_allclose(probabilities, predict_proba(model.classifier, model.classifier.encode(TEXTS)),
                               atol=1e-4)
    assert model.predict(TEXTS) == [LABELS[i] for i in probabilities.argmax(axis=1)]
    np.testing.assert_array_equal(load_version(champion.version).predict_proba(TEXTS), probabilities)


def test_a_version_whose_files_changed_is_refused(saved_model, tmp_path) -> None:
    folder, sha256 = saved_model
    copy = tmp_path / "tampered"
    shutil.copytree(folder, copy)
    (copy / "retrain_labels.json").write_text(json.dumps({"labels": ["positive", "neutral", "negative"]}))
    register(str(copy), sha256)

    with pytest.raises(ArtifactIntegrityError):
        load_champion()


def test_no_champion_is_a_lookup_error_and_the_cli_says_what_to_do(capsys) -> None:
    assert main(["init"]) == 0
    with pytest.raises(LookupError, match="no champion yet"):
        load_champion()
    assert main(["predict", "anything"]) == 1
    assert "retrain run" in capsys.readouterr().err


def write_rows(path: Path, count: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "review", "label"])
        for i in range(count):
            writer.writerow([i, f"{TEXTS[i % len(TEXTS)]} #{i}", "positive"])
    return path


def test_predict_file_streams_every_row_with_label_and_probabilities(champion, tmp_path, monkeypatch, capsys):
    import models.serving

    opened = []
    real_open = models.serving.open_for_scoring
    monkeypatch.setattr(models.serving, "open_for_scoring", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    monkeypatch.setattr("retrain.predict.CHUNK_ROWS", 7)  # several chunks, each written as it is scored
    source = write_rows(tmp_path / "in.csv", 30)

    assert main(["predict", "--file", str(source), "--text-column", "review", "--out", str(tmp_path / "out.csv")]) == 0

    assert len(opened) == 1  # the model is loaded once, whatever the number of chunks
    assert "scored 30 rows" in capsys.readouterr().err
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["id"] for row in rows] == [str(i) for i in range(30)]
    assert list(rows[0]) == ["id", "review", "label", "predicted_label", "probability_negative",
                             "probability_neutral", "probability_positive"]
    expected = load_champion().predict_proba([row["review"] for row in rows])
    got = np.array([[float(row[f"probability_{label}"]) for label in LABELS] for row in rows])
    np.testing.assert_allclose(got, expected, atol=2e-6)
    assert [row["predicted_label"] for row in rows] == [LABELS[i] for i in expected.argmax(axis=1)]


def test_predict_json_lines_for_a_file_and_for_texts(champion, tmp_path, capsys) -> None:
    source = write_rows(tmp_path / "in.csv", 5)
    assert main(["predict", "--file", str(source), "--text-column", "review", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == ["0", "1", "2", "3", "4"]
    assert all(set(r["probabilities"]) == set(LABELS) and r["predicted_label"] in LABELS for r in records)
    assert abs(sum(records[0]["probabilities"].values()) - 1) < 1e-5

    assert main(["predict", "--json", "first text", "second text"]) == 0
    assert [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()] == ["first text",
                                                                                            "second text"]


def test_predict_a_file_without_the_text_column_names_the_columns(champion, tmp_path, capsys) -> None:
    assert main(["predict", "--file", str(write_rows(tmp_path / "in.csv", 3))]) == 1
    err = capsys.readouterr().err
    assert "'text' not found" in err and "'review'" in err and "--text-column" in err


def test_the_predict_command_exits_without_teardown_with_all_its_output_written(champion, tmp_path) -> None:
    # `retrain predict` ends with os._exit once its output is flushed: nothing it wrote may be lost,
    # to a pipe (stdout), a file (--out) or stderr, and the exit code is the command's.
    command = [sys.executable, "-c", "from retrain.cli import console; console()", "predict"]
    texts = [f"text number {i}" for i in range(200)]
    piped = subprocess.run([*command, *texts], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr[-2000:]
    assert [line.split("\t")[2] for line in piped.stdout.splitlines()] == texts

    source = write_rows(tmp_path / "in.csv", 50)
    to_file = subprocess.run([*command, "--file", str(source), "--text-column", "review", "--out",
                              str(tmp_path / "out.csv")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert to_file.returncode == 0 and "scored 50 rows" in to_file.stderr
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as file:
        assert [row["id"] for row in csv.DictReader(file)] == [str(i) for i in range(50)]

    missing = subprocess.run([*command, "--file", str(source)], capture_output=True, text=True, timeout=300,
                             cwd=tmp_path)
    assert missing.returncode == 1 and "'text' not found" in missing.stderr


@pytest.mark.slow
def test_export_writes_a_saved_model_plain_tensorflow_serves_in_a_fresh_process(champion, tmp_path, capsys):
    folder = tmp_path / "export" / "v1"
    assert main(["export", str(champion.version), str(folder)]) == 0
    assert "SavedModel" in capsys.readouterr().out
    expected = load_champion().predict_proba(TEXTS)

    script = (
        "import json, sys\n"
        "import tensorflow as tf, tensorflow_text  # noqa\n"
        f"serve = tf.saved_model.load({str(folder)!r}).signatures['serving_default']\n"
        f"out = serve(text=tf.constant({TEXTS!r}))\n"
        "ours = sorted(m for m in sys.modules if m.split('.')[0] in ('retrain', 'models', 'keras_hub'))\n"
        "print(json.dumps({'p': out['probabilities'].numpy().tolist(),\n"
        "                  'label': [x.decode() for x in out['label'].numpy()], 'ours': ours}))\n"
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}  # no PYTHONPATH
    run = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])

    assert result["ours"] == []  # nothing of retrain (nor KerasHub) was needed
    # A fresh process runs the same float32 graph with its own kernel choices, summing in another order:
    # 1.5e-5 apart was seen on a loaded machine. Far below a difference that moves a label (checked next).
    np.testing.assert_allclose(np.array(result["p"]), expected, atol=1e-4)
    assert result["label"] == [LABELS[i] for i in expected.argmax(axis=1)]
    assert json.loads((folder / "labels.json").read_text())["labels"] == list(LABELS)
    assert main(["export", str(champion.version), str(folder)]) == 1  # never over an existing folder


# --- retrain behave: the behaviour suite against the champion ----------------------------------------
SUITE = """
tests:
  - name: praise is positive
    kind: mft
    label: positive
    templates: ["I {love} this {thing}!"]
    fill: {love: [love, adore], thing: [phone, song, team]}
  - name: casing does not change the label
    kind: inv
    templates: ["{name} was on the flight"]
    fill: {name: [Anna, Omar]}
    perturb: [casing]
"""


def test_behave_reports_each_test_of_the_suite_as_running_it_directly_does(champion, tmp_path, capsys):
    from models.artifacts import open_registered
    from models.behaviour import load_suite, run_suite

    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(SUITE)
    create_bookkeeping_schema(connect(Settings()))
    assert main(["behave", str(suite_file), "--show-failures", "0"]) == 0
    out = capsys.readouterr().out.splitlines()

    settings = Settings()
    classifier = open_registered(settings, champion)
    suite = load_suite(suite_file, champion.labels, settings.seed)
    result = run_suite(suite, lambda texts: predict_proba(classifier, classifier.encode(texts), 8), classifier.labels)
    assert out[0] == (f"champion v{champion.version} on {suite_file}: "
                      f"{sum(result.passed)}/{len(result.passed)} cases pass")
    assert [line.split()[:2] for line in out[1:3]] == [["praise", "is"], ["casing", "does"]]
    assert [test.cases for test in result.tests] == [6, 2]  # 2 x 3 fillings; 2 names, each with its casings
    for line, test in zip(out[1:3], result.tests, strict=True):
        assert f"{test.passed:>4}/{test.cases:<4}" in line


def test_behave_without_a_suite_or_a_champion_says_what_is_missing(tmp_path, capsys):
    settings = Settings()
    engine = connect(settings)
    registry.create_registry_schema(engine)
    create_bookkeeping_schema(engine)
    assert main(["behave"]) == 1
    assert "no behaviour suite: give SUITE.yaml or set RETRAIN_BEHAVIOUR_SUITE" in capsys.readouterr().err
    (tmp_path / "suite.yaml").write_text(SUITE)
    assert main(["behave", str(tmp_path / "suite.yaml")]) == 1
    assert "no champion yet" in capsys.readouterr().err


def test_a_warm_start_trains_alike_whatever_the_process_drew_before(champion):
    """Fine-tuning from the champion is reproducible in a process that ran other flows first: a loaded
    model's dropout seeds must not come from whatever Python's global random state holds by then."""
    import random

    from models.starting_point import starting_point
    from models.training import TrainingConfig, fine_tune

    settings = Settings(labels=list(LABELS))
    texts = [f"{word} flight number {i}" for i, word in enumerate(["great", "awful", "okay"] * 8)]
    labels = list(LABELS) * 8
    trained = []
    for draws in (0, 5):
        for _ in range(draws):  # as Prefect does when it names a run
            random.random()
        classifier = starting_point(settings, champion, batch=None)
        config = TrainingConfig(epochs=1, batch_size=8, early_stopping_fraction=0.0, seed=3)
        fine_tune(classifier, texts, labels, config)
        trained.append([np.asarray(w) for w in classifier.task.trainable_weights])
    assert all(np.array_equal(a, b) for a, b in zip(*trained, strict=True))
