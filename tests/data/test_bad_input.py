"""A corpus of bad input. Each kind gets its own clear message, at import or at validation; every good
row is in the database afterwards; a refused run leaves the champion as it was.

Import: null and blank texts, unknown labels, a 1 MB text, invalid UTF-8 and control characters,
SQL meta-characters, duplicate ids, conflicting labels, a missing column, a wrong column type, an
empty file. Validation (rows a team's own table can hold, or that only the stored data reveals):
NULL texts, integer labels, duplicate ids, conflicting labels, held-out leakage, an empty batch.
The last test sends the whole corpus through the real flow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from data.importing import BadInputFile, import_csv
from data.ledger import Watermark
from data.pull import pull_new_rows
from data.settings import RunOptions, Settings
from data.split import TEST
from data.store import connect, create_bookkeeping_schema, create_schema, examples_table
from models import registry
from tests.helpers import add_rows, sentiment_rows
from validation import DataCheckFailed, gate, quarantine, validate_batch
from validation.gate import expectations_for

GOOD = ["what a lovely flight thank you", "never flying with them again", "crew was great"]
GOOD_LABELS = ["positive", "negative", "positive"]
LABELS = ("negative", "positive")
MOJIBAKE = "I could cry of happiness _ôÖ©_ôÖ©_ôÖ©_ôÖ©_ôÖ© #Coachella2015"
SQL_TEXTS = ["Robert'); DROP TABLE labeled_examples;--", "' OR '1'='1", "100% _wild_ \\ card; SELECT * FROM x"]


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RETRAIN_MIN_NEW_ROWS", "3")
    settings = Settings(labels=list(LABELS))
    create_schema(connect(settings), settings)
    return settings


def csv(*lines: str | bytes) -> bytes:
    return b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines) + b"\n"


def good_lines() -> list[str]:
    return [f"{text},{label}" for text, label in zip(GOOD, GOOD_LABELS, strict=True)]


def filler_lines(count: int) -> list[str]:
    return [f"the flight number {i} was {'fine' if i % 2 else 'late'},{'positive' if i % 2 else 'negative'}"
            for i in range(count)]


def stored_texts(settings: Settings) -> list[str]:
    """Every text in the table, straight from it (quarantined or not)."""
    table = examples_table(settings)
    with connect(settings).connect() as conn:
        return list(conn.execute(sa.select(table.c.text).order_by(table.c.id)).scalars())


def import_bytes(settings: Settings, tmp_path: Path, content: bytes, **options):
    path = tmp_path / "batch.csv"
    path.write_bytes(content)
    return import_csv(connect(settings), settings, path, **options)


# --- at import --------------------------------------------------------------------------------------

IMPORT_CASES = {
    "null and blank texts": (
        csv("text,label", ",positive", '"   ",negative', '"\t",positive', *good_lines()),
        {2: "blank text", 3: "blank text", 4: "blank text"}),
    "unknown labels": (
        csv("text,label", "meh,neutral", "fine,POSITIVE", "ok,", *good_lines()),
        {2: "label not in the label set ['negative', 'positive']: 'neutral'",
         3: "label not in the label set ['negative', 'positive']: 'POSITIVE'",
         4: "label not in the label set ['negative', 'positive']: ''"}),
    "a 1 MB text": (
        csv("text,label", "spam " * 200_000 + ",negative", *good_lines()),
        {2: "text longer than max_text_chars=100000: 1000000 chars"}),
    "invalid UTF-8 and control characters": (
        csv("text,label", b"caf\xc3\xa9 cr\xc3\xa8me was lovely,positive", b"bad \xff\xfe bytes,negative",
            b"nul \x00 inside,positive", *good_lines()),
        {3: "text holds bytes that are not valid UTF-8 (fix the file, or import it with --encoding latin-1 if it "
            "is not UTF-8)",
         4: "text contains a NUL character, which the database cannot store"}),
    "confidence of the wrong type": (
        csv("text,label,confidence", "sure thing,positive,high", "too sure,negative,1.7", "unsure,positive,",
            *(line + ",0.9" for line in good_lines())),
        {2: "confidence is not a number: 'high'", 3: "confidence outside [0, 1]: '1.7'"}),
    "duplicates with the same label": (
        csv("text,label", *good_lines(), f"{GOOD[0]},{GOOD_LABELS[0]}"),
        {5: "duplicate text of row 1"}),
}


@pytest.mark.parametrize("case", IMPORT_CASES)
def test_bad_rows_are_rejected_at_import_by_line_and_the_good_rows_are_stored(case, settings, tmp_path):
    content, expected = IMPORT_CASES[case]
    confidence = "confidence" if b"confidence" in content.split(b"\n")[0] else None

    report = import_bytes(settings, tmp_path, content, confidence_column=confidence)

    assert {r.line: r.reason for r in report.rejected} == expected
    texts = stored_texts(settings)
    assert set(GOOD) <= set(texts)
    assert len(texts) == report.imported == len(content.strip().split(b"\n")) - 1 - len(expected)


def test_valid_utf8_survives_a_file_with_some_invalid_bytes(settings, tmp_path):
    content = IMPORT_CASES["invalid UTF-8 and control characters"][0]

    report = import_bytes(settings, tmp_path, content)

    assert report.encoding == "utf-8 with 2 invalid bytes"
    assert "café crème was lovely" in stored_texts(settings)  # not garbled into "cafÃ© crÃ¨me"


def test_a_latin1_file_is_read_as_latin1(settings, tmp_path):
    report = import_bytes(settings, tmp_path, csv("text,label", "caf\xe9 ok,positive".encode("latin-1")))

    assert report.encoding == "latin-1" and stored_texts(settings) == ["café ok"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_sql_meta_characters_are_stored_verbatim(database, request, monkeypatch, tmp_path):
    if database == "postgresql":
        monkeypatch.setenv("RETRAIN_DATABASE_URL", request.getfixturevalue("postgres_url"))
    settings = Settings(labels=list(LABELS))
    create_schema(connect(settings), settings)
    lines = ['"' + text.replace('"', '""') + '",negative' for text in SQL_TEXTS]

    report = import_bytes(settings, tmp_path, csv("text,label", *lines, "it's a \"quoted\" one,positive"))

    assert report.rejected == []
    assert stored_texts(settings) == [*SQL_TEXTS, 'it\'s a "quoted" one']
    batch = pull_new_rows(connect(settings), settings, None)
    assert batch.frame["text"].tolist() == stored_texts(settings)


def test_duplicate_ids_in_a_file_do_not_merge_or_drop_rows(settings, tmp_path):
    content = csv("id,text,label", *(f"7,{line}" for line in good_lines()), "7,one more,negative")

    report = import_bytes(settings, tmp_path, content)

    assert report.imported == 4 and len(set(report.ids)) == 4  # the database hands out the ids
    assert stored_texts(settings) == [*GOOD, "one more"]


def test_conflicting_labels_are_imported_and_quarantined_at_validation(settings, tmp_path):
    content = csv("text,label", *good_lines(), f"{GOOD[1]},positive", "Never flying with them AGAIN!,negative",
                  *filler_lines(10))

    report = import_bytes(settings, tmp_path, content)

    assert report.rejected == [] and report.imported == 15
    assert [r.line for r in report.conflicting] == [5]
    assert report.conflicting[0].reason == "same text as row 2 ('negative') with label 'positive'"
    assert "the next run's data checks quarantine them" in report.summary()
    engine = connect(settings)
    checked = gate.check_batch(engine, settings, pull_new_rows(engine, settings, None),
                               expectations=_loose(settings))
    ids = report.ids
    assert set(checked.report.quarantined_ids) == {ids[1], ids[3], ids[4]}
    reasons = {e.row_id: e.reason for e in quarantine.list_entries(engine, settings)
               if e.check_name == "conflicting_labels"}
    assert reasons[ids[3]] == (f"labeled 'positive', but row {ids[1]} with the same normalised text is labeled "
                               "'negative'")


@pytest.mark.parametrize(("content", "message"), [
    (b"", "is empty: a CSV needs a header line naming its columns"),
    (b"   \n\n", "is empty: a CSV needs a header line naming its columns"),
    (csv("text,sentiment", "fine,positive"),
     "column(s) ['label'] not found; the file has ['text', 'sentiment'] (choose them with --text-column / "
     "--label-column)"),
    (csv("text,label", '"unclosed,positive', "x,y,z,w"), "is not a readable CSV"),
])
def test_a_file_that_cannot_be_imported_says_why_and_stores_nothing(content, message, settings, tmp_path):
    with pytest.raises(BadInputFile) as error:
        import_bytes(settings, tmp_path, content)

    assert message in str(error.value)
    assert stored_texts(settings) == []


def test_an_explicit_wrong_encoding_is_named(settings, tmp_path):
    with pytest.raises(BadInputFile, match=r"is not valid utf-8: byte 0xe9 at offset 14; try --encoding auto"):
        import_bytes(settings, tmp_path, csv("text,label", "caf\xe9,positive".encode("latin-1")), encoding="utf-8")


def test_a_header_only_file_imports_nothing_and_the_run_refuses_the_empty_batch(settings, tmp_path):
    report = import_bytes(settings, tmp_path, csv("text,label"))
    engine = connect(settings)

    checked = gate.check_batch(engine, settings, pull_new_rows(engine, settings, None))

    assert report.imported == 0 and report.rejected == []
    assert not checked.report.success
    assert "min_new_rows): 0 rows failing; batch has 0 rows, fewer than min_new_rows=3" in str(
        DataCheckFailed(checked.report))


# --- at validation ------------------------------------------------------------------------------------


def _loose(settings: Settings, **overrides):
    """The settings' expectations with room to quarantine a small test batch's bad rows."""
    from dataclasses import replace

    return replace(expectations_for(settings), max_quarantine_share=0.5, max_class_share=1.0, **overrides)


def test_rows_a_teams_table_can_hold_are_quarantined_with_their_reason(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'team.db'}"
    engine = sa.create_engine(url)
    rows = [(1, GOOD[0], "positive"), (2, None, "positive"), (3, GOOD[1], "spam"), (4, "x" * 1_000_000, "negative"),
            (5, GOOD[2], None), *((i, f"the app {'works' if i % 2 else 'is broken'} {i}", LABELS[i % 2])
                                  for i in range(6, 13))]
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE feedback (id INTEGER PRIMARY KEY, body TEXT, verdict TEXT, "
                             "at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"))
        for row in rows:
            conn.execute(sa.text("INSERT INTO feedback (id, body, verdict) VALUES (:i, :b, :v)"),
                         dict(zip("ibv", row, strict=True)))
    for name, value in {"RETRAIN_DATABASE_URL": url, "RETRAIN_TABLE": "feedback", "RETRAIN_TEXT_COLUMN": "body",
                        "RETRAIN_LABEL_COLUMN": "verdict", "RETRAIN_LABELED_AT_COLUMN": "at",
                        "RETRAIN_SOURCE_COLUMN": "", "RETRAIN_CONFIDENCE_COLUMN": "",
                        "RETRAIN_MIN_NEW_ROWS": "3"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    engine = connect(settings)
    create_bookkeeping_schema(engine)  # `retrain init` on a team's database: our tables beside theirs

    checked = gate.check_batch(engine, settings, pull_new_rows(engine, settings, None), expectations=_loose(settings))

    assert checked.report.success, checked.report.summary()
    reasons = {e.row_id: (e.check_name, e.reason) for e in quarantine.list_entries(engine, settings)
               if e.check_name != "length_outlier"}
    assert reasons == {
        2: ("text_not_null", "text is null"),
        3: ("label_in_label_set", "label 'spam' is not one of ['negative', 'positive']"),
        4: ("text_length", "text has 1000000 chars, outside [1, 100000]"),
        5: ("label_not_null", "label is null"),
    }
    assert sorted(checked.batch.frame["id"]) == [1, *range(6, 13)]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM feedback")).scalar_one() == 12


def test_a_label_column_of_the_wrong_type_refuses_the_batch(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'team.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE scored (id INTEGER PRIMARY KEY, text TEXT NOT NULL, label INTEGER NOT NULL, "
                             "labeled_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"))
        for i, text in enumerate(GOOD * 2):
            conn.execute(sa.text("INSERT INTO scored (text, label) VALUES (:t, :l)"), {"t": f"{text} {i}", "l": i % 2})
    for name, value in {"RETRAIN_DATABASE_URL": url, "RETRAIN_TABLE": "scored", "RETRAIN_SOURCE_COLUMN": "",
                        "RETRAIN_CONFIDENCE_COLUMN": ""}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    engine = connect(settings)
    create_bookkeeping_schema(engine)

    checked = gate.check_batch(engine, settings, pull_new_rows(engine, settings, None))

    message = str(DataCheckFailed(checked.report))
    assert "(column_types): 6 rows failing; label holds int values in 6 rows, expected strings" in message
    assert quarantine.list_entries(engine, settings, include_released=True) == []


def test_duplicate_ids_and_a_missing_column_in_a_frame_are_refused(settings):
    frame = pd.DataFrame({"id": [1, 2, 2], "text": GOOD, "label": GOOD_LABELS})

    duplicate_ids = str(DataCheckFailed(validate_batch(frame, expectations_for(settings))))
    missing = str(DataCheckFailed(validate_batch(frame.drop(columns="label"), expectations_for(settings))))

    assert ("expect_column_values_to_be_unique (unique_ids): 2 rows failing; 2 of 3 rows share their id with "
            "another row; rows are quarantined and trained on by id, so ids must be unique; example ids: 2"
            ) in duplicate_ids
    assert "expect_column_to_exist (required_columns): 0 rows failing; missing column(s): label" in missing


def test_a_new_row_that_is_already_in_the_held_out_set_is_quarantined(settings, make_champion: Callable):
    engine = connect(settings)
    add_rows(settings, sentiment_rows(50))
    stored = pull_new_rows(engine, settings, None).frame
    held_out_row = stored[stored["split"] == TEST].iloc[0]
    last = stored.iloc[-1]
    make_champion(settings, Watermark(last["labeled_at"].to_pydatetime(), int(last["id"])))
    leak = add_rows(settings, [(held_out_row["text"].upper() + "!!", held_out_row["label"])]
                    + sentiment_rows(30, seed=4, prefix="new "))[0]

    checked = gate.check_batch(engine, settings, pull_new_rows(engine, settings, registry.lineage_of(engine)))

    assert checked.report.quarantined_ids == (leak,)
    assert [(e.check_name, e.reason) for e in quarantine.list_entries(engine, settings)] == [
        ("test_set_leakage", f"same normalised text as held-out row {held_out_row['id']}")]


# --- through the flow -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_server")
def test_the_flow_refuses_a_bad_batch_with_every_reason_and_keeps_rows_and_champion(flow_settings, monkeypatch):
    from flows.retrain import retrain

    settings = flow_settings
    engine = connect(settings)
    add_rows(settings, sentiment_rows(240, seed=1))
    assert retrain(triggered_by="test").promoted
    champion, versions = registry.champion(engine), len(registry.list_versions(engine))

    # Nothing new: the empty batch is refused before any training.
    with pytest.raises(DataCheckFailed, match="batch has 0 rows, fewer than min_new_rows=20"):
        retrain(triggered_by="test")
    assert registry.champion(engine) == champion and len(registry.list_versions(engine)) == versions

    stored = pull_new_rows(engine, settings, None).frame
    held_out_row = stored[stored["split"] == TEST].iloc[0]
    trained_row = stored[stored["split"] != TEST].iloc[0]
    bad = add_rows(settings, [
        ("   ", "positive"), ("the service was fine i guess", "neutral"), ("spam " * 200_000, "negative"),
        ("\x1b[31mred alert\x1b[0m the app crashed", "negative"), (MOJIBAKE, "positive"),
        ("good or bad, who knows", "positive"), ("Good or bad; who knows?", "negative"),
        (held_out_row["text"].upper(), held_out_row["label"]), (trained_row["text"] + " !!", trained_row["label"]),
    ])
    good = add_rows(settings, sentiment_rows(100, seed=2, prefix="new ") + [(text, "negative") for text in SQL_TEXTS])
    rows_before = stored_texts(settings)

    with pytest.raises(DataCheckFailed) as refused:
        retrain(triggered_by="test")

    message = str(refused.value)
    for check, count in [("text_not_blank", 1), ("label_in_label_set", 1), ("text_length", 1),
                         ("control_characters", 1), ("encoding_garbage", 1), ("conflicting_labels", 2),
                         ("test_set_leakage", 1), ("duplicate_of_stored", 1)]:
        assert f"({check}): {count} row{'s' if count > 1 else ''} failing" in message, (check, message)
    share = f"(quarantine_share): {len(bad)} rows failing; {len(bad)} of {len(bad) + len(good)} rows quarantined"
    assert share in message
    assert f"example ids: {bad[1]}" in message  # the unknown label's row
    assert registry.champion(engine) == champion and len(registry.list_versions(engine)) == versions
    assert stored_texts(settings) == rows_before
    assert quarantine.list_entries(engine, settings, include_released=True) == []

    # A deployment that tolerates more quarantines the bad rows and trains on the rest; a dry run only
    # says what it would quarantine.
    monkeypatch.setenv("RETRAIN_MAX_QUARANTINE_SHARE", "0.1")
    report = retrain(RunOptions(dry_run=True), triggered_by="test")
    assert report.rows_pulled == len(bad) + len(good)
    assert registry.get_version(engine, report.challenger_version).new_rows == len(good)  # trained: the good ones
    assert quarantine.list_entries(engine, settings) == []
    assert registry.champion(engine) == champion  # a dry run never promotes

    report = retrain(triggered_by="test")
    assert registry.get_version(engine, report.challenger_version).new_rows == len(good)
    assert {e.row_id for e in quarantine.list_entries(engine, settings)} == set(bad)
    assert stored_texts(settings) == rows_before
