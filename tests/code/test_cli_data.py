"""The data commands of the ``retrain`` command line, run in-process (RETRAIN_HOME is a tmp folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retrain.cli import main


def write_csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_init_then_import_reports_counts_and_each_rejected_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--labels", "negative,positive"]) == 0
    out = capsys.readouterr().out
    assert "labeled_examples" in out and "ready" in out and str(tmp_path / "home") in out

    path = write_csv(
        tmp_path / "week1.csv",
        "text,label",
        "what a lovely flight,positive",
        ",negative",
        "the seats were ok,neutral",
        "lost my luggage,negative",
        "what a lovely flight,positive",
    )
    assert main(["import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "imported 2 rows, rejected 3" in out
    assert "row 2: blank text" in out
    assert "row 3: label not in the label set" in out and "'neutral'" in out
    assert "row 5: duplicate text of row 1" in out

    assert main(["status"]) == 0
    assert "no champion yet; 2 labeled rows wait for the first run" in capsys.readouterr().out


def test_import_with_a_label_map_and_other_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RETRAIN_LABELS", '["negative", "positive"]')
    path = write_csv(tmp_path / "s140.csv", "tweet,polarity", "awful day,0", "great day,4", "meh,2")
    code = main(["import", str(path), "--text-column", "tweet", "--label-column", "polarity",
                 "--label-map", "0=negative,4=positive"])
    assert code == 0
    out = capsys.readouterr().out
    assert "imported 2 rows, rejected 1" in out and "row 3: label not in the label set" in out
    assert main(["status"]) == 0
    assert "2 labeled rows wait" in capsys.readouterr().out


def test_status_before_any_rows_says_none_wait(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "no champion yet; 0 labeled rows wait" in out
    assert "rows in quarantine: 0" in out


def test_history_of_an_empty_registry_prints_the_header_and_no_promotions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["init"]) == 0
    capsys.readouterr()
    assert main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["ver", "parent", "created"]
    assert "accuracy" in lines[0] and "decision" in lines[0]
    assert "promotions (0), * marks the champion:" in lines
    assert not any(re.match(r"\s*\d+[* ] ", line) for line in lines), lines  # no version rows
    assert not any(line.lstrip().startswith("20") for line in lines), lines  # no promotion rows


def test_a_bad_setting_returns_1_and_names_the_field(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RETRAIN_TEST_FRACTION", "2")
    assert main(["status"]) == 1
    captured = capsys.readouterr()
    assert "bad setting" in captured.err and "test_fraction" in captured.err
    assert captured.out == ""


def test_importing_a_missing_file_returns_1_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-file.csv"
    assert main(["import", str(missing)]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == f"retrain: no such CSV file: {missing}"
    assert main(["status"]) == 0  # the import created the tables, and imported nothing
    assert "0 labeled rows wait" in capsys.readouterr().out


def test_importing_a_file_without_the_text_column_returns_1_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "rows.csv", "review,label", "good,positive")
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "['text']" in err and "--text-column" in err


READ_ONLY_COMMANDS = [["status"], ["history"], ["history", "-v"], ["predict", "hello"], ["quarantine", "list"],
                      ["quarantine", "release", "1"], ["rollback", "1"]]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=" ".join)
def test_read_only_commands_never_create_a_database(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "elsewhere" / ".retrain"  # e.g. run from another folder
    monkeypatch.setenv("RETRAIN_HOME", str(home))
    assert main(command) == 1
    err = capsys.readouterr().err
    assert f"no database at {home.resolve() / 'retrain.db'}" in err and "retrain init" in err
    assert not home.exists()


@pytest.mark.parametrize("command", [["status"], ["quarantine", "list"]], ids=" ".join)
def test_a_mistyped_table_is_named_and_never_created(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlalchemy as sa

    from data.settings import Settings
    from data.store import connect

    assert main(["init"]) == 0
    monkeypatch.setenv("RETRAIN_TABLE", "labelled_examples")
    capsys.readouterr()
    assert main(command) == 1
    assert "table 'labelled_examples' does not exist" in capsys.readouterr().err
    assert not sa.inspect(connect(Settings())).has_table("labelled_examples")
