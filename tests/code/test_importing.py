"""Importing labeled rows: every row is imported or rejected with its CSV line and a reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from data.importing import import_csv, import_frame
from data.settings import Settings
from data.store import NewExample, connect, create_schema, examples_table, insert_examples


def make_settings(database_url: str, **fields: object) -> Settings:
    fields.setdefault("labels", ["negative", "positive"])  # RETRAIN_LABELS, fixed by the first import
    settings = Settings(database_url=database_url, max_text_chars=60, **fields)
    create_schema(connect(settings), settings)
    return settings


def stored(settings: Settings) -> dict[str, str]:
    """text -> label of every stored row, straight from the table."""
    table = examples_table(settings)
    with connect(settings).connect() as conn:
        return dict(conn.execute(sa.select(table.c.text, table.c.label).order_by(table.c.id)).all())


def write(path: Path, *lines: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_good_rows_are_imported_and_each_bad_row_is_rejected_by_line_and_reason(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url)
    engine = connect(settings)
    insert_examples(engine, settings, [NewExample("already in the database", "negative")])
    path = write(
        tmp_path / "rows.csv",
        "text,label",                             # line 1
        "a lovely flight,positive",               # 2
        "   ,negative",                           # 3 blank text
        "the seats were fine,neutral",            # 4 unknown label
        "lost my bag,negative",                   # 5
        "a lovely flight,positive",               # 6 duplicate of line 2
        "already in the database,negative",       # 7 duplicate of a stored row
        f"{'very long ' * 10},positive",          # 8 over max_text_chars=60
        '"crew was great, thanks",positive',      # 9 quoted comma
    )

    report = import_csv(engine, settings, path)

    assert report.imported == 3 and len(report.ids) == 3
    assert report.encoding == "utf-8"
    rejected = {r.line: r.reason for r in report.rejected}
    assert sorted(rejected) == [3, 4, 6, 7, 8]
    assert rejected[3] == "blank text"
    assert rejected[4].startswith("label not in the label set") and "'neutral'" in rejected[4]
    assert rejected[6] == "duplicate text of row 1"
    assert rejected[7].startswith("duplicate text of stored row id ")
    assert rejected[8] == "text longer than max_text_chars=60: 100 chars"
    assert report.reasons()["blank text"] == 1
    assert "imported 3 rows, rejected 5" in report.summary()
    assert stored(settings) == {
        "already in the database": "negative", "a lovely flight": "positive", "lost my bag": "negative",
        "crew was great, thanks": "positive",
    }


def test_line_numbers_count_physical_lines_past_blank_lines_and_multi_line_texts(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url)
    path = write(
        tmp_path / "rows.csv",
        "text,label",                  # line 1
        "fine,positive",               # 2
        "",                            # 3 an empty line (skipped by the parser)
        ",negative",                   # 4 blank text
        '"a text over',                # 5 one record on lines 5-6
        'two lines",positive',         # 6
        "bad,sideways",                # 7 unknown label
    )

    report = import_csv(connect(settings), settings, path)

    assert report.imported == 2
    assert [(r.line, r.reason.split(" ")[0]) for r in report.rejected] == [(4, "blank"), (7, "label")]
    assert stored(settings)["a text over\ntwo lines"] == "positive"


def test_a_label_map_renames_raw_labels_and_unmapped_ones_are_rejected(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url)
    path = write(tmp_path / "sentiment140.csv", "text,label", "awful day,0", "great day,4", "meh day,2")

    report = import_csv(connect(settings), settings, path, label_map={"0": "negative", "4": "positive"})

    assert report.imported == 2
    assert [(r.line, r.reason) for r in report.rejected] == [
        (4, "label not in the label set ['negative', 'positive']: '2'")
    ]
    assert stored(settings) == {"awful day": "negative", "great day": "positive"}


def test_a_latin1_file_is_detected_and_its_text_survives(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url)
    path = write(tmp_path / "latin1.csv", "text,label", "café crème très bon,positive", "déçu,negative",
                 encoding="latin-1")

    report = import_csv(connect(settings), settings, path, encoding="auto")

    assert report.encoding == "latin-1"
    assert report.imported == 2 and report.rejected == []
    assert stored(settings) == {"café crème très bon": "positive", "déçu": "negative"}


def test_a_missing_text_column_is_a_key_error_naming_it(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url)
    path = write(tmp_path / "rows.csv", "review,label", "good,positive")
    with pytest.raises(KeyError, match="body"):
        import_csv(connect(settings), settings, path, text_column="body")
    with pytest.raises(KeyError, match="'text'"):
        import_frame(connect(settings), settings, pd.DataFrame({"review": ["good"], "label": ["positive"]}))
    assert stored(settings) == {}


def test_a_second_import_of_the_same_file_stores_nothing_twice(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url)
    engine = connect(settings)
    path = write(tmp_path / "rows.csv", "text,label", "one,positive", "two,negative", "three,positive")

    first = import_csv(engine, settings, path)
    second = import_csv(engine, settings, path)

    assert first.imported == 3 and second.imported == 0
    assert [r.line for r in second.rejected] == [2, 3, 4]
    assert all(r.reason.startswith("duplicate text of stored row id") for r in second.rejected)
    assert stored(settings) == {"one": "positive", "two": "negative", "three": "positive"}
