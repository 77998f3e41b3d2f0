"""The label set lives in the database: the first import (or `retrain init --labels`) fixes it, every later
command reads it from there, and RETRAIN_LABELS is only a check. Long documents are kept and rejections
name the data row. Run in-process through the CLI, as a new user would type it."""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime
from pathlib import Path

import pytest

from data.labels import LabelSetMismatch, fixed_labels, with_fixed_labels
from data.settings import Settings
from data.store import connect
from retrain.cli import main

TOPICS = {
    "business": ["shares", "profits", "market", "economy", "bank", "investors"],
    "entertainment": ["film", "actor", "music", "album", "festival", "award"],
    "politics": ["election", "minister", "party", "parliament", "vote", "government"],
    "sport": ["match", "goal", "team", "coach", "championship", "player"],
    "tech": ["software", "computer", "internet", "phone", "users", "digital"],
}
FILLER = ["the", "said", "on", "after", "week", "new", "year", "people", "report", "more", "a", "its"]


def news_csv(path: Path, count: int = 400, seed: int = 0, long_every: int = 25) -> Path:
    """A news corpus like a user's export: five topics, articles over several lines, some of them long."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        for i in range(count):
            label = list(TOPICS)[i % len(TOPICS)]
            words = TOPICS[label]
            paragraphs = [" ".join(rng.choice(words) if j % 3 == 0 else rng.choice(FILLER) for j in range(60))
                          for _ in range(2 if i % long_every else 60)]  # a long one is ~20,000 chars
            headline = " ".join(rng.sample(words, 3))
            writer.writerow([f"{headline} (story {i})\n" + "\n".join(paragraphs), label])
    return path


def write_csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def database_labels() -> list[str] | None:
    return fixed_labels(connect(Settings()))


@pytest.mark.usefixtures("prefect_server")
def test_the_news_corpus_path_works_with_no_environment_variable(flow_settings, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RETRAIN_EPOCHS", "12")  # five classes take the tiny BERT a few more epochs than two
    assert main(["init"]) == 0
    assert "the first `retrain import` fixes it" in capsys.readouterr().out

    assert main(["import", str(news_csv(tmp_path / "news.csv"))]) == 0
    out = capsys.readouterr().out
    assert "imported 400 rows, rejected 0" in out  # the long articles too (~20,000 chars each)
    assert f"label set fixed in this database: {sorted(TOPICS)}" in out
    assert database_labels() == sorted(TOPICS)

    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert "promoted" in out and "sequence length 32 tokens" in out
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "champion: version 1" in out and f"labels {sorted(TOPICS)}" in out


def test_init_labels_fixes_the_order_given_and_the_import_rejects_others_by_row(tmp_path, capsys):
    assert main(["init", "--labels", "positive,negative"]) == 0
    assert "label set ['positive', 'negative'], fixed in this database" in capsys.readouterr().out
    path = write_csv(tmp_path / "week1.csv", "text,label", "what a lovely flight,positive", ",negative",
                     "the seats were ok,neutral", "lost my luggage,negative", "what a lovely flight,positive")

    assert main(["import", str(path)]) == 0
    captured = capsys.readouterr()
    assert "imported 2 rows, rejected 3" in captured.out
    assert "row 2: blank text" in captured.out
    assert "row 3: label not in the label set" in captured.out and "'neutral'" in captured.out
    assert "row 5: duplicate text of row 1" in captured.out
    assert "--label-map" in captured.err and "retrain init --labels" in captured.err  # what to do
    assert database_labels() == ["positive", "negative"]  # the order given: the class-index order


def test_a_second_label_set_is_an_error_naming_both(tmp_path, monkeypatch, capsys):
    assert main(["import", str(write_csv(tmp_path / "a.csv", "text,label", "x,b", "y,a"))]) == 0
    assert database_labels() == ["a", "b"]
    capsys.readouterr()
    assert main(["init", "--labels", "c,d"]) == 1
    assert "--labels ['c', 'd'] differ from the label set fixed in this database ['a', 'b']" in capsys.readouterr().err

    monkeypatch.setenv("RETRAIN_LABELS", json.dumps(["negative", "positive"]))
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert "RETRAIN_LABELS ['negative', 'positive']" in err and "fixed in this database ['a', 'b']" in err

    monkeypatch.setenv("RETRAIN_LABELS", json.dumps(["a", "b"]))  # the same set: a check that passes
    assert main(["status"]) == 0
    with pytest.raises(LabelSetMismatch):
        with_fixed_labels(Settings(labels=["b", "a"]))  # order counts: it is the class-index order


def test_retrain_labels_when_set_is_what_the_first_import_fixes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RETRAIN_LABELS", json.dumps(["neg", "pos"]))
    assert main(["import", str(write_csv(tmp_path / "a.csv", "text,label", "x,pos", "y,other"))]) == 0
    assert database_labels() == ["neg", "pos"]
    assert "imported 1 rows, rejected 1" in capsys.readouterr().out


def test_an_import_that_rejects_every_row_exits_1_with_the_summary(tmp_path, capsys):
    assert main(["init", "--labels", "negative,positive"]) == 0
    capsys.readouterr()
    path = write_csv(tmp_path / "news.csv", "text,label", "shares fell,business", "a goal,sport")
    assert main(["import", str(path)]) == 1
    captured = capsys.readouterr()
    assert "imported 0 rows, rejected 2" in captured.out and "2 x label not in the label set" in captured.out
    assert "no row of" in captured.err


def test_a_file_with_one_label_cannot_fix_the_label_set(tmp_path, capsys):
    assert main(["import", str(write_csv(tmp_path / "a.csv", "text,label", "x,spam", "y,spam"))]) == 1
    assert "at least two" in capsys.readouterr().err
    assert database_labels() is None


def test_a_new_label_in_a_database_with_a_champion_says_so_and_what_to_do(tmp_path, make_champion, capsys):
    from data.ledger import Watermark

    assert main(["import", str(write_csv(tmp_path / "a.csv", "text,label", "fine,positive", "bad,negative"))]) == 0
    settings = with_fixed_labels(Settings())
    make_champion(settings, Watermark(labeled_at=datetime(2026, 1, 5), id=2))
    capsys.readouterr()

    path = write_csv(tmp_path / "b.csv", "text,label", "so so,neutral", "good,positive")
    assert main(["import", str(path)]) == 0
    err = capsys.readouterr().err
    assert "['negative', 'positive']; champion v1 is trained on it" in err
    assert "new database" in err and "--label-map" in err


def test_rows_are_named_by_data_row_and_by_line_where_texts_span_lines(tmp_path, capsys):
    path = write_csv(tmp_path / "a.csv", "text,label", "fine,positive", '"a text over', 'two lines",negative',
                     ",negative", "bad,sideways")
    assert main(["init", "--labels", "negative,positive"]) == 0
    assert main(["import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "row 3 (line 5): blank text" in out and "row 4 (line 6): label not in the label set" in out


def test_a_one_megabyte_junk_row_is_still_refused_by_default(tmp_path, capsys):
    path = write_csv(tmp_path / "a.csv", "text,label", "spam " * 200_000 + ",negative", "fine,positive",
                     "bad,negative")
    assert main(["import", str(path)]) == 0
    assert "row 1: text longer than max_text_chars=100000: 1000000 chars" in capsys.readouterr().out
