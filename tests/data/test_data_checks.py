"""The data checks of issue 4, one at a time on in-memory batches: what each catches, what it lets
through, its reason, its severity and threshold, and the GX Data Docs site."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data.normalise import normalize_text
from validation.batch_checks import BatchExpectations, ReferenceData, ValidationReport, validate_batch

LABELS = ("negative", "positive")
TWEET = "flight delayed again, three hours on the tarmac and nobody tells us anything useful"


def batch(texts: list[str], labels: list[str] | None = None, **columns: list) -> pd.DataFrame:
    """Rows with ids 1.. and alternating labels unless given."""
    labels = labels or [LABELS[i % 2] for i in range(len(texts))]
    return pd.DataFrame({"id": range(1, len(texts) + 1), "text": texts, "label": labels, **columns})


def filler(count: int, start: int = 0) -> list[str]:
    """Distinct, clean tweet-like texts."""
    return [f"{TWEET} number {i}" for i in range(start, start + count)]


def expect(**overrides: object) -> BatchExpectations:
    """Loose bounds on the quarantined share and class shares, so one check can be looked at alone."""
    loose = {"max_quarantine_share": 0.5, "max_class_share": 1.0}
    return BatchExpectations(labels=LABELS, **{**loose, **overrides})  # type: ignore[arg-type]


def stored_tweets(count: int) -> ReferenceData:
    """Stored rows like the batches': tweet-length texts, half of each label."""
    return stored([(-i, f"{TWEET} stored {i}", LABELS[i % 2], "train") for i in range(1, count + 1)])


def reasons(report: ValidationReport, check: str) -> dict:
    """Row id -> reason, for the rows ``check`` flagged."""
    return {row.row_id: dict(row.reasons)[check] for row in report.flagged if check in dict(row.reasons)}


def status(report: ValidationReport, check: str) -> str:
    return next(c.status for c in report.checks if c.name == check)


def found_by(report: ValidationReport) -> set[str]:
    return {c.name for c in report.checks if c.status != "passed"}


def stored(rows: list[tuple[int, str, str, str]]) -> ReferenceData:
    return ReferenceData(pd.DataFrame(rows, columns=["id", "text", "label", "split"]))


# --- text features ------------------------------------------------------------------------------


@pytest.mark.parametrize(("one", "other"), [
    ("Great film!!", "great   FILM"),
    ("Ｇｒｅａｔ film", "great film"),  # full-width letters (NFKC)
    ("delayed again http://t.co/abc", "Delayed again https://t.co/xyz"),  # per-post links
    ("Straße", "STRASSE"),  # casefold
])
def test_normalised_texts_that_say_the_same_thing_match(one: str, other: str) -> None:
    assert normalize_text(one) == normalize_text(other)


@pytest.mark.parametrize(("one", "other"), [("good", "not good"), (":(", ":)"), ("!!!", "???")])
def test_normalised_texts_that_differ_stay_apart(one: str, other: str) -> None:
    assert normalize_text(one) != normalize_text(other)


# --- encoding garbage and control characters ----------------------------------------------------


def test_mojibake_and_replacement_characters_are_quarantined_with_their_share() -> None:
    texts = filler(6)
    texts[1] = "I could cry of happiness _ôÖ©_ôÖ©_ôÖ©_ôÖ©_ôÖ© #Coachella2015"  # Mac Roman emoji mojibake
    texts[2] = "donâ€™t Ã©tÃ© â€œquotesâ€\x9d"  # UTF-8 read as cp1252
    texts[3] = "bad \ufffd\ufffd\ufffd bytes"
    texts[4] = "café crème brûlée, ação, naïve Zoë — “quoted” and don’t"  # ordinary text
    texts[5] = TWEET + " äó»"  # one mojibake apostrophe in a long tweet: under the share bound

    report = validate_batch(batch(texts), expect())

    assert set(reasons(report, "encoding_garbage")) == {2, 3, 4}
    assert reasons(report, "encoding_garbage")[2] == "25% of the text is encoding garbage (at most 20%)"
    assert found_by(report) == {"encoding_garbage"}


def test_the_garbage_share_bound_is_configurable() -> None:
    texts = filler(3)
    texts[0] = TWEET + " äó»"

    assert reasons(validate_batch(batch(texts), expect(max_garbage_share=0.01)), "encoding_garbage") == {
        1: "3% of the text is encoding garbage (at most 1%)"}


def test_control_characters_are_quarantined_but_tabs_and_line_breaks_are_text() -> None:
    texts = filler(5)
    texts[1] = "nul\x00byte"
    texts[2] = "\x1b[31mred terminal text\x1b[0m"
    texts[3] = "two\tcolumns\r\nand a line break"

    report = validate_batch(batch(texts), expect())

    assert reasons(report, "control_characters") == {
        2: "12.5% of the text is control characters, e.g. \\x00",
        3: "7.7% of the text is control characters, e.g. \\x1b"}
    assert found_by(report) == {"control_characters"}
    assert "control_characters" not in found_by(validate_batch(batch(texts), expect(max_control_share=0.2)))


# --- duplicates, conflicting labels, leakage -----------------------------------------------------


def test_near_duplicates_are_quarantined_and_exact_repeats_counted_once() -> None:
    texts = filler(6)
    texts[2] = texts[0].upper() + "!!!"  # row 3: near-duplicate of row 1
    texts[4] = texts[0]  # row 5: exact repeat of row 1
    labels = ["negative"] * 6

    report = validate_batch(batch(texts, labels), expect())

    assert reasons(report, "near_duplicate_text") == {3: "same text as row 1 after normalisation"}
    assert reasons(report, "duplicate_text") == {5: "same text as row 1"}
    assert found_by(report) == {"near_duplicate_text", "duplicate_text"}


def test_the_same_text_with_conflicting_labels_quarantines_every_copy() -> None:
    texts = filler(5)
    texts[2] = texts[1].upper()  # rows 2 and 3 say the same; labels alternate, so they disagree

    report = validate_batch(batch(texts), expect())

    assert reasons(report, "conflicting_labels") == {
        2: "labeled 'positive', but row 3 with the same normalised text is labeled 'negative'",
        3: "labeled 'negative', but row 2 with the same normalised text is labeled 'positive'"}
    assert reasons(report, "near_duplicate_text") == {3: "same text as row 2 after normalisation"}
    assert report.quarantined_ids == (2, 3)


def test_rows_already_stored_duplicated_contradicted_or_held_out_are_quarantined() -> None:
    texts = filler(8)
    labels = ["negative"] * 8
    reference = stored([
        (-1, texts[1].upper(), "negative", "train"),  # row 2 duplicates a stored training row
        (-2, texts[2] + " ...", "positive", "train"),  # row 3 contradicts a stored row's label
        (-3, texts[3], "negative", "test"),  # row 4 would leak into the held-out set
        (-4, "an unrelated stored tweet", "positive", "train"),
    ])

    report = validate_batch(batch(texts, labels), expect(severities={"label_drift": "off"}), reference=reference)

    assert reasons(report, "duplicate_of_stored") == {2: "same normalised text and label as stored row -1"}
    assert reasons(report, "conflicting_labels") == {
        3: "labeled 'negative', but stored row -2 with the same normalised text is labeled 'positive'"}
    assert reasons(report, "test_set_leakage") == {4: "same normalised text as held-out row -3"}
    assert report.quarantined_ids == (2, 3, 4)


def test_checks_against_stored_rows_do_not_run_before_the_first_champion() -> None:
    report = validate_batch(batch(filler(4)), expect())

    assert dict(report.skipped)["test_set_leakage"] == "no champion yet: no stored rows to compare with"
    assert {"duplicate_of_stored", "test_set_leakage", "label_drift"} <= dict(report.skipped).keys()


# --- length outliers and annotator confidence ----------------------------------------------------


def test_length_outliers_are_measured_against_the_stored_rows_median() -> None:
    texts = filler(4)
    texts[1] = "x" * 900  # 10 x the stored median of 80 = 800

    reference = stored([(-i, "y" * 80, "negative", "train") for i in range(1, 4)])
    report = validate_batch(batch(texts), expect(), reference=reference)

    assert reasons(report, "length_outlier") == {
        2: "text has 900 chars, over 800 (10x the median of the stored rows' texts)"}
    assert not reasons(validate_batch(batch(texts), expect(length_outlier_factor=12), reference=reference),
                       "length_outlier")


def test_a_one_megabyte_text_is_quarantined_without_slowing_the_batch_down() -> None:
    texts = filler(30)
    texts[7] = "spam " * 200_000

    report = validate_batch(batch(texts), expect())

    assert report.quarantined_ids == (8,)
    assert {check for check, _ in report.flagged[0].reasons} == {"text_length", "length_outlier"}
    docs_values = str(report.gx_results)
    assert len(docs_values) < 200_000  # Data Docs show a cut value, not the megabyte


def test_low_annotator_confidence_is_quarantined_when_the_column_exists() -> None:
    confidence = [1.0, 0.2, None, 0.35, 1.5, 0.9]

    report = validate_batch(batch(filler(6), confidence=confidence), expect())

    assert reasons(report, "low_confidence") == {2: "annotator confidence 0.2 outside [0.35, 1]",
                                                 5: "annotator confidence 1.5 outside [0.35, 1]"}
    without = validate_batch(batch(filler(6)), expect())
    assert dict(without.skipped)["low_confidence"] == "the batch has no confidence column"


# --- batch checks: drift and imbalance ------------------------------------------------------------


def test_label_drift_against_the_champions_data_refuses_or_warns_by_severity() -> None:
    reference = stored_tweets(100)  # 50/50
    skewed = batch(filler(20), ["negative"] * 17 + ["positive"] * 3)  # 85/15: KL 0.27

    refused = validate_batch(skewed, expect(), reference=reference)
    warned = validate_batch(skewed, expect(severities={"label_drift": "warn"}), reference=reference)
    similar = validate_batch(batch(filler(20)), expect(), reference=reference)

    drift = next(c for c in refused.checks if c.name == "label_drift")
    assert not refused.success and drift.status == "failed"
    assert drift.detail.startswith("KL divergence 0.2")
    assert "{negative: 85%, positive: 15%}" in drift.detail and "at most 0.1" in drift.detail
    assert warned.success and status(warned, "label_drift") == "warned" and warned.warnings
    assert similar.success and status(similar, "label_drift") == "passed"


def test_class_imbalance_inside_the_batch_is_bounded() -> None:
    lopsided = batch(filler(20), ["negative"] * 19 + ["positive"])

    refused = validate_batch(lopsided, expect(max_class_share=0.9))
    allowed = validate_batch(lopsided, expect(max_class_share=0.96))
    too_rare = validate_batch(lopsided, expect(max_class_share=1.0, min_class_share=0.1))

    imbalance = next(c for c in refused.checks if c.name == "class_imbalance")
    assert imbalance.status == "failed"
    assert imbalance.detail == "label shares negative 95%, positive 5%; each must lie within [0%, 90%]"
    assert allowed.success and not too_rare.success


def test_batch_checks_measure_only_the_rows_that_proceed() -> None:
    # 3 of 20 rows carry an unknown label; quarantined, they must not count as a class of their own.
    labels = ["negative", "positive"] * 10
    labels[:3] = ["neutral"] * 3
    report = validate_batch(batch(filler(20), labels), expect(max_quarantine_share=0.15), reference=stored_tweets(100))

    assert report.success, report.summary()
    assert status(report, "label_drift") == "passed"


# --- severities, releases, structure --------------------------------------------------------------


def test_a_row_check_can_warn_instead_of_quarantining_or_be_turned_off() -> None:
    texts = filler(4)
    texts[2] = texts[0] + "!"

    warned = validate_batch(batch(texts, ["negative"] * 4), expect(severities={"near_duplicate_text": "warn"}))
    off = validate_batch(batch(texts, ["negative"] * 4), expect(severities={"near_duplicate_text": "off"}))

    assert warned.success and warned.quarantined_ids == () and status(warned, "near_duplicate_text") == "warned"
    assert "near_duplicate_text" not in {c.name for c in off.checks}
    assert dict(off.skipped)["near_duplicate_text"] == "turned off (severity off)"


def test_a_released_row_is_not_quarantined_again_by_the_checks_it_was_released_from() -> None:
    texts = filler(4)
    texts[1] = "I could cry of happiness _ôÖ©_ôÖ©_ôÖ©_ôÖ©_ôÖ©"
    labels = ["negative", "spam", "negative", "positive"]

    report = validate_batch(batch(texts, labels), expect(), released={2: {"encoding_garbage", "label_in_label_set"}})

    # The garbled text was judged fine by a person; an unknown label can never be trained on.
    assert reasons(report, "label_in_label_set") == {2: "label 'spam' is not one of ['negative', 'positive']"}
    assert not reasons(report, "encoding_garbage")
    garbage = next(c for c in report.checks if c.name == "encoding_garbage")
    assert garbage.status == "passed" and "1 released by a person earlier and not quarantined again" in garbage.detail


def test_duplicate_ids_refuse_the_batch() -> None:
    frame = batch(filler(5))
    frame.loc[3, "id"] = 2

    report = validate_batch(frame, expect())

    ids = next(c for c in report.checks if c.name == "unique_ids")
    assert not report.success and ids.status == "failed"
    assert ids.detail.startswith("2 of 5 rows share their id with another row")
    assert ids.example_ids == (2,)


@pytest.mark.parametrize(("column", "values", "expected"), [
    ("text", [1, 2, "three", 4], "text holds int values in 3 rows, expected strings"),
    ("label", [0, 1, 0, 1], "label holds int values in 4 rows, expected strings"),
    ("confidence", ["high", 0.9, None, "low"], "confidence holds str values in 2 rows, expected numbers"),
])
def test_a_column_of_the_wrong_type_refuses_the_batch_and_skips_its_checks(column: str, values: list,
                                                                          expected: str) -> None:
    frame = batch(filler(4), confidence=[0.9] * 4)
    frame[column] = pd.Series(values, dtype=object)

    report = validate_batch(frame, expect())

    types = next(c for c in report.checks if c.name == "column_types")
    assert types.status == "failed" and types.detail == expected
    assert "holds values that are not" in dict(report.skipped)[
        {"text": "text_length", "label": "label_in_label_set", "confidence": "low_confidence"}[column]]


# --- the Data Docs site ----------------------------------------------------------------------------


def test_data_docs_pages_are_built_under_the_home_folder(tmp_path: Path) -> None:
    from validation.docs import publish_data_docs, site_index

    texts = filler(10)
    texts[3] = "nul\x00byte"
    report = validate_batch(batch(texts), expect())

    docs = publish_data_docs(tmp_path / "home", report, "weekly-run-7", "after-10-to-20")

    assert docs.index == site_index(tmp_path / "home").as_uri()
    assert len(docs.pages) == 2 and all(page.startswith((tmp_path / "home").as_uri()) for page in docs.pages)
    rows_page = Path(docs.pages[0].removeprefix("file://")).read_text()
    assert "weekly-run-7" in rows_page and "control_characters" in rows_page
    assert "weekly-run-7" in site_index(tmp_path / "home").read_text()
