"""The quarantine on SQLite and PostgreSQL: rows that fail row checks leave the pull and the held-out
set (never the table), a refused batch writes nothing, released rows wait (behind the watermark) until
a champion's lineage trained on them, and the command line lists and releases them. The last test runs
the real flow (tiny BERT) through quarantine, release and promotion."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from data.held_out import held_out_set
from data.ledger import Watermark
from data.pull import pull_new_rows
from data.settings import RunOptions, Settings
from data.split import TEST, split_of
from data.store import NewExample, connect, create_bookkeeping_schema, create_schema, examples_table, insert_examples
from models import registry
from retrain import cli
from tests.helpers import add_rows, sentiment_rows
from validation import gate, quarantine

MOJIBAKE = "I could cry of happiness _ôÖ©_ôÖ©_ôÖ©_ôÖ©_ôÖ© #Coachella2015"


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RETRAIN_DATABASE_URL", database_url)
    monkeypatch.setenv("RETRAIN_MIN_NEW_ROWS", "5")
    settings = Settings()
    create_schema(connect(settings), settings)
    return settings


def lineage(settings: Settings):
    engine = connect(settings)
    registry.create_registry_schema(engine)
    return registry.lineage_of(engine)


def run_checks(settings: Settings) -> gate.CheckedBatch:
    """What a run does before training: pull what waits for the champion's lineage, check it."""
    engine = connect(settings)
    return gate.check_batch(engine, settings, pull_new_rows(engine, settings, lineage(settings)), "test-run")


def v2_consumed(settings: Settings, version: int) -> dict[int, str]:
    from data.ledger import consumed_by

    return consumed_by(connect(settings), settings.table, [version])


def waiting_ids(settings: Settings) -> set[int]:
    return set(pull_new_rows(connect(settings), settings, lineage(settings)).frame["id"])


def table_rows(settings: Settings) -> list[tuple[int, str, str]]:
    """Every labeled row as stored, straight from the table."""
    with connect(settings).connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT id, text, label FROM labeled_examples ORDER BY id"))]


def watermark_of(settings: Settings, row_id: int) -> Watermark:
    """The watermark just past a row (quarantined or not), as a champion trained up to it would have."""
    with connect(settings).connect() as conn:
        table = examples_table(settings)
        at = conn.execute(sa.select(table.c.labeled_at).where(table.c.id == row_id)).scalar_one()
    return Watermark(at, row_id)


def test_failing_rows_are_quarantined_and_the_rest_proceeds_without_touching_the_table(settings):
    ids = add_rows(settings, sentiment_rows(60) + [(MOJIBAKE, "positive"), ("   ", "negative")])
    before = table_rows(settings)

    checked = run_checks(settings)

    assert checked.report.success, checked.report.summary()
    assert checked.quarantined == 2 and checked.report.quarantined_ids == (ids[-2], ids[-1])
    assert sorted(checked.batch.frame["id"]) == ids[:-2]
    entries = {e.row_id: e for e in quarantine.list_entries(connect(settings), settings)}
    assert entries[ids[-2]].check_name == "encoding_garbage" and entries[ids[-2]].text == MOJIBAKE
    assert entries[ids[-1]].reason == "text is blank" and entries[ids[-1]].flow_run == "test-run"
    assert sorted(pull_new_rows(connect(settings), settings, None).frame["id"]) == ids[:-2]
    assert table_rows(settings) == before  # nothing deleted or changed


def test_a_refused_batch_quarantines_nothing(settings):
    ids = add_rows(settings, sentiment_rows(10) + [(MOJIBAKE, "positive"), ("meh", "neutral")])

    checked = run_checks(settings)

    assert not checked.report.success
    assert checked.quarantined == 0
    assert quarantine.list_entries(connect(settings), settings, include_released=True) == []
    assert sorted(pull_new_rows(connect(settings), settings, None).frame["id"]) == ids


def test_quarantined_rows_leave_the_held_out_set_until_released(settings):
    # Row ids are handed out in order, so the bad text can be placed on a held-out (test) id.
    count = 80
    bad_id = next(i for i in range(40, count) if split_of(i, settings.test_fraction) == TEST)
    rows = sentiment_rows(count)
    rows[bad_id - 1] = (MOJIBAKE, "positive")
    ids = add_rows(settings, rows)
    assert ids[bad_id - 1] == bad_id
    engine = connect(settings)

    def held_out() -> set[int]:
        return set(held_out_set(engine, settings, None, pull_new_rows(engine, settings)).frame["id"])

    assert bad_id in held_out()
    run_checks(settings)
    assert bad_id not in held_out()
    quarantine.release(engine, settings, [bad_id], by="test")
    assert bad_id in held_out()


def test_released_rows_come_back_until_a_champion_has_trained_on_them(settings, make_champion: Callable):
    engine = connect(settings)
    ids = add_rows(settings, sentiment_rows(60) + [(MOJIBAKE, "positive")])
    bad = ids[-1]
    assert run_checks(settings).report.quarantined_ids == (bad,)
    v1 = make_champion(settings, watermark_of(settings, ids[-1]))  # trained on the rest
    new = add_rows(settings, sentiment_rows(20, seed=9, prefix="week two "))

    assert set(run_checks(settings).batch.frame["id"]) == set(new)  # still quarantined
    released = quarantine.release(engine, settings, [bad], by="ana")
    assert released.released == {bad: ("encoding_garbage",)} and not released.will_be_quarantined_again()

    # Behind the watermark, yet back in the pull, and not quarantined again for its mojibake.
    checked = run_checks(settings)
    assert checked.quarantined == 0 and checked.batch.behind == 1
    assert set(checked.batch.frame["id"]) == {*new, bad}
    assert checked.batch.end == watermark_of(settings, new[-1])

    # A challenger trained on it but not promoted: it keeps waiting.
    v2 = make_champion(settings, watermark_of(settings, new[-1]), parent=v1.version, promote=False)
    assert bad in v2_consumed(settings, v2.version) and bad in waiting_ids(settings)

    # Once that challenger is the champion, the row is part of its training data: it stops coming back.
    registry.switch_champion(engine, v2.version, v1.version, "test", "promoted")
    assert waiting_ids(settings) == set()
    # A rollback to the champion that never saw it brings it back again.
    registry.rollback(engine, actor="test", reason="bad week")
    assert waiting_ids(settings) == {*new, bad}


def test_a_released_row_quarantined_again_by_another_check_stays_out(settings, make_champion: Callable):
    engine = connect(settings)
    ids = add_rows(settings, sentiment_rows(60) + [(MOJIBAKE, "positive")])
    bad = ids[-1]
    run_checks(settings)
    make_champion(settings, watermark_of(settings, bad))
    quarantine.release(engine, settings, [bad], by="ana")
    # A new row says the same with the other label: both copies are now in conflict.
    contradiction = add_rows(settings, sentiment_rows(40, seed=3, prefix="later ") + [(MOJIBAKE, "negative")])[-1]

    checked = run_checks(settings)

    assert set(checked.report.quarantined_ids) == {bad, contradiction}
    assert {e.check_name for e in quarantine.list_entries(engine, settings) if e.row_id == bad} == {
        "conflicting_labels"}
    assert bad not in set(run_checks(settings).batch.frame["id"])


def test_the_quarantine_works_for_a_teams_own_table(database_url: str, monkeypatch: pytest.MonkeyPatch):
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE support_tickets (ticket_id INTEGER PRIMARY KEY, body TEXT, "
                             "topic VARCHAR(50), reviewed_at TIMESTAMP NOT NULL)"))
        for i in range(1, 41):
            conn.execute(sa.text("INSERT INTO support_tickets VALUES (:i, :body, :topic, :at)"),
                         {"i": i, "body": f"ticket {i}: the app crashes when I {'pay' if i % 2 else 'log in'}",
                          "topic": "billing" if i % 2 else "bug", "at": "2026-01-05 09:00:00"})
        conn.execute(sa.text("INSERT INTO support_tickets VALUES (41, NULL, 'bug', '2026-01-05 09:00:00')"))
    engine.dispose()
    for name, value in {"RETRAIN_DATABASE_URL": database_url, "RETRAIN_TABLE": "support_tickets",
                        "RETRAIN_ID_COLUMN": "ticket_id", "RETRAIN_TEXT_COLUMN": "body",
                        "RETRAIN_LABEL_COLUMN": "topic", "RETRAIN_LABELED_AT_COLUMN": "reviewed_at",
                        "RETRAIN_SOURCE_COLUMN": "", "RETRAIN_CONFIDENCE_COLUMN": "",
                        "RETRAIN_LABELS": '["billing", "bug"]', "RETRAIN_MIN_NEW_ROWS": "5"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    columns_before = [c["name"] for c in sa.inspect(connect(settings)).get_columns("support_tickets")]
    create_bookkeeping_schema(connect(settings))  # `retrain init`: retrain's own tables beside the team's

    checked = run_checks(settings)

    assert checked.report.quarantined_ids == (41,)
    assert [e.reason for e in quarantine.list_entries(connect(settings), settings)] == ["text is null"]
    assert [c["name"] for c in sa.inspect(connect(settings)).get_columns("support_tickets")] == columns_before
    assert 41 not in set(pull_new_rows(connect(settings), settings, None).frame["id"])


def test_quarantine_list_and_release_on_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RETRAIN_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("RETRAIN_MIN_NEW_ROWS", "5")
    settings = Settings()
    assert cli.main(["init"]) == 0
    engine = connect(settings)
    ids = insert_examples(engine, settings, [NewExample(t, label) for t, label in sentiment_rows(40)]
                         + [NewExample(MOJIBAKE, "positive"), NewExample("so-so", "neutral")])
    assert gate.check_batch(engine, settings, pull_new_rows(engine, settings, None)).quarantined == 2
    capsys.readouterr()

    assert cli.main(["status"]) == 0
    assert "rows in quarantine: 2 (`retrain quarantine list`)" in capsys.readouterr().out
    assert cli.main(["quarantine", "list"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("2 rows in quarantine, 2 entries")
    assert f"{ids[-2]:>8} encoding_garbage" in listing and "25% of the text is encoding garbage" in listing
    assert f"{ids[-1]:>8} label_in_label_set" in listing and "'so-so'" in listing

    assert cli.main(["quarantine", "release", str(ids[-2]), str(ids[-1]), "999", "--by", "ana"]) == 0
    out, err = capsys.readouterr()
    assert f"released row {ids[-2]} (encoding_garbage): the next run pulls it again" in out
    assert f"note: row {ids[-1]} failed label_in_label_set, which no release exempts from" in out
    assert "row 999 is not quarantined" in err

    assert cli.main(["quarantine", "list"]) == 0
    assert capsys.readouterr().out.startswith("0 rows in quarantine")
    assert cli.main(["quarantine", "list", "--all"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("2 rows (released ones too), 2 entries")
    assert all(line.split()[4] != "-" for line in listing.splitlines()[2:])  # the released-at column
    entries = quarantine.list_entries(engine, settings, include_released=True)
    assert {e.released_by for e in entries} == {"ana"} and all(not e.active for e in entries)
    assert cli.main(["quarantine", "release", "999"]) == 1


@pytest.mark.usefixtures("prefect_server")
def test_the_flow_quarantines_trains_on_the_rest_and_takes_released_rows_back(flow_settings):
    from flows.retrain import retrain

    settings = flow_settings
    engine = connect(settings)
    good = add_rows(settings, sentiment_rows(240, seed=1))
    bad = add_rows(settings, [(MOJIBAKE, "positive"), ("meh whatever", "neutral"), ("\x1b[2J cleared", "negative")])

    first = retrain(triggered_by="test")

    assert first.promoted, first.reason
    assert first.rows_pulled == 243 and first.rows_trained + first.held_out_rows == 240
    held = set(held_out_set(engine, settings, registry.lineage_of(engine)).frame["id"])
    assert held <= set(good) and not held & set(bad)
    assert {e.row_id for e in quarantine.list_entries(engine, settings)} == set(bad)

    quarantine.release(engine, settings, [bad[0], bad[2]], by="test")
    add_rows(settings, sentiment_rows(40, seed=2, prefix="week two "))
    second = retrain(RunOptions(min_improvement=0.0), triggered_by="test")

    assert second.rows_pulled == 42  # 40 new rows and the 2 released ones, behind the watermark
    consumed = v2_consumed(settings, second.challenger_version)
    assert {bad[0], bad[2]} <= set(consumed)  # the challenger consumed them ...
    if not second.promoted:  # ... and is the champion from now on (a person may promote any version)
        registry.rollback(engine, actor="test", reason="take the challenger", to_version=second.challenger_version)

    add_rows(settings, sentiment_rows(30, seed=3, prefix="week three "))
    third = retrain(RunOptions(dry_run=True), triggered_by="test")
    assert third.rows_pulled == 30  # the released rows do not come back once the champion trained on them
    assert not {bad[0], bad[2]} & waiting_ids(settings)


def test_the_artifact_links_the_data_docs_and_lists_the_quarantined_rows(tmp_path, monkeypatch):
    from tasks.checks import checks_markdown
    from validation.docs import publish_data_docs

    monkeypatch.setenv("RETRAIN_MIN_NEW_ROWS", "5")
    settings = Settings()
    create_schema(connect(settings), settings)
    ids = add_rows(settings, sentiment_rows(60) + [(MOJIBAKE, "positive")])
    checked = run_checks(settings)
    docs = publish_data_docs(tmp_path / "docs-home", checked.report, "run-x", "after-start-to-61")

    markdown = checks_markdown(checked, docs)

    assert markdown.startswith("# Data checks: passed\n\n**61 rows pulled: 1 quarantined, 60 proceed to training.**")
    assert f"GX Data Docs: [row checks]({docs.pages[0]}) · [batch checks]({docs.pages[1]}) · " in markdown
    assert "| encoding_garbage | quarantined | 1 | 1 of 61 rows has a text over 20% encoding garbage" in markdown
    assert f"| {ids[-1]} | encoding_garbage | 25% of the text is encoding garbage (at most 20%) |" in markdown

    add_rows(settings, [(f"meh {i}", "neutral") for i in range(4)])  # 4 of 64 rows: over 5%
    refused = checks_markdown(run_checks(settings))
    assert refused.startswith("# Data checks: refused\n\n**Refused: ")
    assert "Nothing was quarantined and nothing was trained; the champion is unchanged.**" in refused
