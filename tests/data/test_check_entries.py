"""The data checks are their entries (validation.checks.CHECKS): the GX suites hold what each entry builds,
the report has one check per entry in entry order, and an entry's threshold settings are the ones that shape
its expectations."""

from __future__ import annotations

import pandas as pd
import pytest

from data.settings import Settings
from validation.batch_checks import ReferenceData, ValidationReport, validate_batch
from validation.checks import CHECKS, ROW_CHECKS
from validation.data_check import ROW, Row
from validation.frame import facts, prepare
from validation.gate import expectations_for
from validation.suites import META_KEY

LABELS = ["negative", "positive"]
TWEET = "flight delayed again, three hours on the tarmac and nobody tells us anything useful"
STORED = ReferenceData(pd.DataFrame(
    [(-i, f"{TWEET} stored {i}", LABELS[i % 2], "train") for i in range(1, 21)]
    + [(-100, f"{TWEET} held out", "negative", "test")], columns=["id", "text", "label", "split"]))
# Room to quarantine a row for every row check and still proceed; texts over 300 chars are too long.
BASE = {"labels": LABELS, "min_new_rows": 1, "max_text_chars": 300, "length_outlier_factor": 3.0,
        "max_quarantine_share": 0.9, "max_class_share": 1.0}
# A value per threshold setting that moves every expectation reading it on the batch below (its texts'
# median length is about 95 chars, so the length-outlier bound is about 285: min_text_chars must pass it).
MOVED = {"min_new_rows": 7, "min_text_chars": 290, "max_text_chars": 350, "length_outlier_factor": 2.0,
         "max_garbage_share": 0.05, "max_control_share": 0.1, "min_confidence": 0.6, "max_label_kl": 0.3,
         "min_class_share": 0.1, "max_class_share": 0.8, "max_quarantine_share": 0.5}


def one_row_per_check() -> pd.DataFrame:
    """A batch on which every check runs and every row check quarantines at least one row."""
    texts = [f"{TWEET} number {i}" for i in range(30)]
    labels = [LABELS[i % 2] for i in range(30)]
    texts[0] = None  # text_not_null
    texts[1] = "   "  # text_not_blank
    labels[2] = None  # label_not_null
    labels[3] = "neutral"  # label_in_label_set
    texts[4] = TWEET * 4  # text_length (over 300) and length_outlier
    texts[5] = "donâ€™t Ã©tÃ© â€œquotesâ€\x9d"  # encoding_garbage
    texts[6] = "nul\x00byte"  # control_characters
    texts[7] = texts[8]  # duplicate_text
    texts[9] = texts[10].upper() + "!!"  # near_duplicate_text
    texts[11], labels[11] = f"{TWEET} stored 4", "positive"  # conflicting_labels (stored row -4 is negative)
    texts[12], labels[12] = f"{TWEET} stored 3", "positive"  # duplicate_of_stored
    texts[13] = f"{TWEET} held out"  # test_set_leakage
    confidence = [0.9] * 30
    confidence[14] = 0.1  # low_confidence
    return pd.DataFrame({"id": range(1, 31), "text": texts, "label": labels, "confidence": confidence})


def validated(**settings: object) -> ValidationReport:
    return validate_batch(one_row_per_check(), expectations_for(Settings(**{**BASE, **settings})), STORED)


@pytest.fixture(scope="module")
def report() -> ValidationReport:
    """The batch validated at the base settings."""
    return validated()


def expectations_by_check(report: ValidationReport) -> dict[str, list[tuple]]:
    """Check name -> its expectations in the validated suites: (type, arguments, description)."""
    found: dict[str, list[tuple]] = {}
    for suite in report.gx_results:
        for result in suite["results"]:
            config = result["expectation_config"]
            found.setdefault(config["meta"][META_KEY], []).append(
                (config["type"], repr(config["kwargs"]), config["description"]))
    return found


def test_every_entry_is_built_into_the_suites_and_reported_in_entry_order(report: ValidationReport) -> None:
    batch = prepare(one_row_per_check(), expectations_for(Settings(**BASE)), STORED)
    built = expectations_by_check(report)

    assert [check.name for check in report.checks] == [entry.name for entry in CHECKS]
    assert report.skipped == () and report.success
    for entry in CHECKS:
        # What the entry builds on this batch is what GX ran, described as the entry words it.
        about = [spec.about for spec in entry.expect(facts(batch, entry, proceeding=None))]
        assert [description.split("): ", 1)[1] for _, _, description in built[entry.name]] == about, entry.name
    reasons = {check for row in report.flagged for check, _ in row.reasons}
    assert reasons == set(ROW_CHECKS)
    assert {c.name for c in report.checks if c.status == "quarantined"} == set(ROW_CHECKS)


def test_a_reason_is_worded_by_its_entry(report: ValidationReport) -> None:
    [entry] = [entry for entry in CHECKS if entry.name == "low_confidence"]
    batch = prepare(one_row_per_check(), expectations_for(Settings(**BASE)), STORED)

    reasons = {row.row_id: dict(row.reasons) for row in report.flagged}

    assert reasons[15]["low_confidence"] == entry.reason(facts(batch, entry), Row(confidence=0.1)) == (
        "annotator confidence 0.1 outside [0.35, 1]")


@pytest.mark.parametrize("setting", sorted({name for entry in CHECKS for name in entry.thresholds}))
def test_a_threshold_setting_moves_the_expectations_of_exactly_the_entries_that_declare_it(
        setting: str, report: ValidationReport) -> None:
    assert setting in Settings.model_fields and setting in MOVED
    before = expectations_by_check(report)
    after = expectations_by_check(validated(**{setting: MOVED[setting]}))

    declaring = {entry.name for entry in CHECKS if setting in entry.thresholds}
    # A batch check does not run when the moved setting quarantines every row: nothing to compare there.
    compared = before.keys() & after.keys()
    moved = {name for name in compared if before[name] != after[name]}

    assert declaring <= compared and moved == declaring


def test_an_entry_reads_only_the_thresholds_it_declares() -> None:
    batch = prepare(one_row_per_check(), expectations_for(Settings(**BASE)), STORED)
    [entry] = [entry for entry in CHECKS if entry.kind == ROW and entry.name == "text_not_null"]

    with pytest.raises(AttributeError):
        _ = facts(batch, entry).min_text_chars
