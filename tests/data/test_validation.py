"""Tests for validation.batch_checks: each original check finds its rows on its own, a good batch
passes, failing rows are quarantined within the bound and refuse the batch beyond it."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from validation.batch_checks import (
    CHECK_ORDER,
    BatchExpectations,
    CheckResult,
    DataCheckFailed,
    ValidationReport,
    require_valid,
    validate_batch,
)

LABELS = ("negative", "positive")
# Without stored rows (no champion yet) and without a confidence column these do not run.
NOT_RUN_ON_A_FIRST_BATCH = {"duplicate_of_stored", "test_set_leakage", "label_drift", "low_confidence"}
ALL_CHECKS = set(CHECK_ORDER) - NOT_RUN_ON_A_FIRST_BATCH
REPO_ROOT = Path(__file__).resolve().parents[2]


def make_batch(rows: int = 10, text_dtype: str | None = None) -> pd.DataFrame:
    """A batch that passes every check with default expectations; ids start at 101."""
    return pd.DataFrame(
        {
            "id": pd.Series(range(101, 101 + rows), dtype="int64"),
            "text": pd.Series([f"sample review number {i}" for i in range(rows)], dtype=text_dtype),
            "label": pd.Series([LABELS[i % 2] for i in range(rows)], dtype=text_dtype),
        }
    )


def expectations(**overrides: object) -> BatchExpectations:
    return BatchExpectations(labels=LABELS, **overrides)  # type: ignore[arg-type]


def only_finding(report: ValidationReport, status: str = "quarantined") -> CheckResult:
    """The single check that found something, asserting that no other check did."""
    found = [c for c in report.checks if c.status != "passed"]
    assert len(found) == 1, report.summary()
    assert found[0].status == status, report.summary()
    return found[0]


def check(report: ValidationReport, name: str) -> CheckResult:
    matches = [c for c in report.checks if c.name == name]
    assert len(matches) == 1, f"{name} not in {[c.name for c in report.checks]}"
    return matches[0]


@pytest.mark.parametrize("text_dtype", [None, "string", "object"])
def test_good_batch_passes_every_check(text_dtype: str | None) -> None:
    report = validate_batch(make_batch(12, text_dtype), expectations(min_new_rows=12))

    assert report.success, report.summary()
    assert report.row_count == 12
    assert {c.name for c in report.checks} == ALL_CHECKS
    assert {name for name, _ in report.skipped} == NOT_RUN_ON_A_FIRST_BATCH
    assert all(c.failed_rows == 0 and c.example_ids == () and c.status == "passed" for c in report.checks)
    assert report.failed == () and report.flagged == () and report.quarantined_ids == ()
    assert report.summary() == f"{len(ALL_CHECKS)} checks passed"


def test_null_texts_are_quarantined_and_the_rest_proceeds() -> None:
    frame = make_batch()
    frame.loc[[2, 5], "text"] = None

    report = validate_batch(frame, expectations(max_quarantine_share=0.2))
    found = only_finding(report)

    assert report.success
    assert found.name == "text_not_null"
    assert found.expectation == "expect_column_values_to_not_be_null"
    assert found.failed_rows == 2
    assert found.example_ids == (103, 106)
    assert found.detail == "2 of 10 rows have a null text"
    assert report.quarantined_ids == (103, 106)
    assert [row.reasons for row in report.flagged] == [(("text_not_null", "text is null"),)] * 2
    assert report.proceeding_rows == 8


def test_blank_text_is_quarantined() -> None:
    frame = make_batch()
    frame.loc[[0, 7], "text"] = ["   ", "\t\n "]

    found = only_finding(validate_batch(frame, expectations(max_quarantine_share=0.2)))

    assert found.name == "text_not_blank"
    assert found.expectation == "expect_column_values_to_not_match_regex"
    assert found.failed_rows == 2
    assert found.example_ids == (101, 108)


def test_unknown_labels_within_the_bound_are_quarantined() -> None:
    frame = make_batch(120)
    frame.loc[[3, 40, 99], "label"] = ["neutral", "Positive", "neutral"]

    report = validate_batch(frame, expectations())
    found = only_finding(report)

    assert found.name == "label_in_label_set"
    assert found.expectation == "expect_column_values_to_be_in_set"
    assert found.failed_rows == 3
    assert found.example_ids == (104, 141, 200)
    assert found.detail == "3 of 120 rows have a label outside ['negative', 'positive']"
    assert dict((row.row_id, row.reasons[0][1]) for row in report.flagged)[141] == (
        "label 'Positive' is not one of ['negative', 'positive']")
    assert check(report, "quarantine_share").detail == "3 of 120 rows quarantined (2.5%); at most 5% may be"


def test_null_label_is_quarantined_by_label_not_null_only() -> None:
    frame = make_batch()
    frame.loc[4, "label"] = None

    found = only_finding(validate_batch(frame, expectations(max_quarantine_share=0.1)))

    assert found.name == "label_not_null"
    assert found.failed_rows == 1
    assert found.example_ids == (105,)


def test_too_long_text_is_quarantined_by_text_length() -> None:
    frame = make_batch()
    frame.loc[6, "text"] = "x" * 51

    found = only_finding(validate_batch(frame, expectations(max_text_chars=50, max_quarantine_share=0.1)))

    assert found.name == "text_length"
    assert found.expectation == "expect_column_value_lengths_to_be_between"
    assert found.failed_rows == 1
    assert found.example_ids == (107,)
    assert "[1, 50]" in found.detail


def test_text_at_the_length_bounds_passes() -> None:
    frame = make_batch(2)
    frame["text"] = ["abc", "x" * 50]

    report = validate_batch(frame, expectations(min_text_chars=3, max_text_chars=50))

    assert check(report, "text_length").status == "passed", report.summary()


def test_too_short_text_is_quarantined_by_text_length() -> None:
    frame = make_batch()
    frame.loc[0, "text"] = "ok"

    found = only_finding(validate_batch(frame, expectations(min_text_chars=3, max_quarantine_share=0.1)))

    assert found.name == "text_length"
    assert found.example_ids == (101,)


def test_too_few_rows_refuses_the_batch() -> None:
    found = only_finding(validate_batch(make_batch(4), expectations(min_new_rows=50)), status="failed")

    assert found.name == "min_new_rows"
    assert found.expectation == "expect_table_row_count_to_be_between"
    assert found.failed_rows == 0
    assert found.example_ids == ()
    assert found.detail == "batch has 4 rows, fewer than min_new_rows=50"


def test_min_new_rows_counts_the_rows_left_after_quarantine() -> None:
    frame = make_batch(20)
    frame.loc[0, "text"] = None

    report = validate_batch(frame, expectations(min_new_rows=20, max_quarantine_share=0.1))

    assert not report.success
    assert check(report, "min_new_rows").detail == "batch has 19 rows after quarantine, fewer than min_new_rows=20"
    assert report.quarantined_ids == ()  # refused: nothing is quarantined


def test_exact_duplicates_keep_the_first_copy() -> None:
    frame = make_batch(20)
    frame.loc[[1, 8, 15], ["text", "label"]] = ["same text", "positive"]
    frame.loc[[4, 5], ["text", "label"]] = ["other repeat", "negative"]  # the same label: not a conflict

    report = validate_batch(frame, expectations(max_quarantine_share=0.2))
    found = only_finding(report)

    assert found.name == "duplicate_text"
    assert found.expectation == "expect_column_values_to_be_first_occurrences"
    assert found.failed_rows == 3
    assert found.example_ids == (106, 109, 116)
    reasons = {row.row_id: row.reasons for row in report.flagged}
    assert reasons == {106: (("duplicate_text", "same text as row 105"),),
                       109: (("duplicate_text", "same text as row 102"),),
                       116: (("duplicate_text", "same text as row 102"),)}


def test_too_many_failing_rows_refuse_the_batch_and_quarantine_nothing() -> None:
    frame = make_batch(30)
    frame.loc[10:29, "label"] = "spam"

    report = validate_batch(frame, expectations())

    assert not report.success
    assert [c.name for c in report.failed] == ["label_in_label_set", "quarantine_share"]
    failed = report.failed[0]
    assert failed.failed_rows == 20
    assert failed.example_ids == (111, 112, 113, 114, 115)
    assert all(type(i) is int for i in failed.example_ids)
    assert failed.detail.endswith("too many rows to quarantine, so the batch is refused")
    assert report.quarantined_ids == ()
    assert check(report, "quarantine_share").detail == "20 of 30 rows quarantined (66.7%); at most 5% may be"


def test_quarantine_share_exactly_at_the_bound_passes() -> None:
    frame = make_batch(20)
    frame.loc[3, "label"] = "spam"  # 1 of 20 = 5%

    assert validate_batch(frame, expectations(max_quarantine_share=0.05)).success
    assert not validate_batch(frame, expectations(max_quarantine_share=0.04)).success


def test_missing_label_column_skips_label_checks() -> None:
    report = validate_batch(make_batch().drop(columns=["label"]), expectations())

    failed = only_finding(report, status="failed")
    assert failed.name == "required_columns"
    assert failed.expectation == "expect_column_to_exist"
    assert failed.failed_rows == 0
    assert failed.detail.startswith("missing column(s): label")
    names = {c.name for c in report.checks}
    assert {"label_not_null", "label_in_label_set", "class_imbalance", "conflicting_labels"}.isdisjoint(names)
    assert dict(report.skipped)["label_in_label_set"] == "column label is missing"
    assert check(report, "text_not_null").status == "passed"


def test_missing_id_column_refuses_rows_it_cannot_quarantine() -> None:
    frame = make_batch(40).drop(columns=["id"])
    frame.loc[3, "label"] = "neutral"

    report = validate_batch(frame, expectations())

    assert {c.name for c in report.failed} == {"required_columns", "label_in_label_set"}
    assert check(report, "required_columns").detail == "missing column(s): id"
    assert dict(report.skipped)["unique_ids"] == "column id is missing"
    unknown = check(report, "label_in_label_set")
    assert unknown.failed_rows == 1
    assert unknown.example_ids == ()
    assert "cannot be quarantined without unique id values" in unknown.detail


def test_empty_frame_with_columns_fails_only_min_new_rows() -> None:
    report = validate_batch(make_batch(0), expectations())

    failed = only_finding(report, status="failed")
    assert report.row_count == 0
    assert failed.name == "min_new_rows"
    assert failed.detail == "batch has 0 rows, fewer than min_new_rows=1"
    assert {c.name for c in report.checks} == ALL_CHECKS - {"length_outlier", "class_imbalance"}
    assert dict(report.skipped)["length_outlier"] == "no texts to measure"
    assert dict(report.skipped)["class_imbalance"] == "no rows proceed: no label shares to judge"


def test_empty_frame_without_columns_reports_instead_of_raising() -> None:
    report = validate_batch(pd.DataFrame(), expectations())

    assert report.row_count == 0
    assert [c.name for c in report.checks] == ["required_columns", "min_new_rows", "quarantine_share"]
    assert not report.success
    assert check(report, "required_columns").detail.startswith("missing column(s): id, text, label")


def test_custom_column_names() -> None:
    frame = make_batch(20).rename(columns={"id": "row_id", "text": "body", "label": "sentiment"})
    frame.loc[2, "body"] = None
    custom = expectations(id_column="row_id", text_column="body", label_column="sentiment")

    found = only_finding(validate_batch(frame, custom))

    assert found.name == "text_not_null"
    assert found.example_ids == (103,)
    assert found.detail == "1 of 20 rows has a null body"


def test_string_ids_are_reported_and_quarantined_as_is() -> None:
    frame = make_batch(20)
    frame["id"] = [f"row-{i}" for i in range(20)]
    frame.loc[9, "text"] = "  "

    report = validate_batch(frame, expectations())

    assert only_finding(report).example_ids == ("row-9",)
    assert report.quarantined_ids == ("row-9",)


def test_data_check_failed_names_expectation_count_and_ids() -> None:
    frame = make_batch(120)
    frame.loc[[3, 40, 99], "label"] = "neutral"
    report = validate_batch(frame, expectations(severities={"label_in_label_set": "fail"}))

    with pytest.raises(DataCheckFailed) as caught:
        require_valid(report)

    message = str(caught.value)
    assert caught.value.report is report
    assert "expect_column_values_to_be_in_set (label_in_label_set): 3 rows failing" in message
    assert "example ids: 104, 141, 200" in message
    assert "expect_column_to_exist" not in message


def test_data_check_failed_lists_rows_that_would_have_been_quarantined() -> None:
    frame = make_batch(40)
    frame.loc[5, "text"] = None
    report = validate_batch(frame, expectations(min_new_rows=50))

    message = str(DataCheckFailed(report))

    assert "(min_new_rows)" in message
    assert "rows flagged for quarantine (not quarantined: the batch was refused):" in message
    assert "text_not_null (expect_column_values_to_not_be_null, quarantined): 1 of 40 rows has a null text" in message
    assert report.quarantined_ids == ()


def test_data_check_failed_survives_pickling() -> None:
    report = validate_batch(make_batch(2), expectations(min_new_rows=5))

    error = pickle.loads(pickle.dumps(DataCheckFailed(report)))

    assert error.report == report
    assert "expect_table_row_count_to_be_between" in str(error)


def test_require_valid_returns_the_report_on_success() -> None:
    report = validate_batch(make_batch(), expectations())

    assert require_valid(report) is report


def test_summary_and_rows_describe_what_the_checks_did() -> None:
    frame = make_batch()
    frame.loc[0, "text"] = None
    report = validate_batch(frame, expectations(min_new_rows=20))

    lines = report.summary().splitlines()
    assert lines == [
        "text_not_null (expect_column_values_to_not_be_null): "
        "1 of 10 rows has a null text; too many rows to quarantine, so the batch is refused; example ids: 101",
        "min_new_rows (expect_table_row_count_to_be_between): "
        "batch has 9 rows after quarantine, fewer than min_new_rows=20",
        "quarantine_share (expect_column_values_to_be_in_set): 1 of 10 rows quarantined (10.0%); at most 5% may be",
    ]
    rows = report.as_rows()
    assert len(rows) == len(report.checks)
    assert set(rows[0]) == {"name", "status", "severity", "expectation", "success", "failed_rows", "detail"}
    assert {r["name"]: r["failed_rows"] for r in rows if not r["success"]} == {
        "text_not_null": 1,
        "min_new_rows": 0,
        "quarantine_share": 1,
    }


def test_no_progress_bars_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    validate_batch(make_batch(), expectations())

    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err
    assert "%|" not in captured.err


@pytest.mark.slow
def test_concurrent_validations_do_not_mix_batches() -> None:
    # GX keeps one active batch per execution engine; unserialised threads see
    # each other's frames, which shows up as another batch's row count.
    sizes = [30, 40, 50, 60]
    barrier = threading.Barrier(len(sizes))
    details: dict[int, list[str]] = {size: [] for size in sizes}

    def run(size: int) -> None:
        barrier.wait()
        for _ in range(3):
            report = validate_batch(make_batch(size), expectations())
            details[size].append(check(report, "min_new_rows").detail)

    threads = [threading.Thread(target=run, args=(size,)) for size in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert details == {
        size: [f"batch has {size} rows, at least min_new_rows=1"] * 3 for size in sizes
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {"labels": ()},
        {"min_new_rows": -1},
        {"min_text_chars": 10, "max_text_chars": 5},
        {"text_column": "id"},
        {"max_quarantine_share": 1.5},
        {"min_class_share": 0.6, "max_class_share": 0.5},
        {"severities": {"no_such_check": "warn"}},
        {"severities": {"label_drift": "quarantine"}},  # a batch check has no rows to quarantine
        {"severities": {"label_in_label_set": "warn"}},  # unknown labels cannot be trained on
    ],
)
def test_inconsistent_expectations_are_rejected(overrides: dict[str, object]) -> None:
    params: dict[str, object] = {"labels": LABELS, **overrides}
    with pytest.raises(ValueError):
        BatchExpectations(**params)  # type: ignore[arg-type]


def test_labels_and_severities_are_stored_as_tuples() -> None:
    exp = BatchExpectations(labels=["positive", "negative"], severities={"label_drift": "warn"})  # type: ignore[arg-type]

    assert exp.labels == ("positive", "negative")
    assert exp.severities == (("label_drift", "warn"),)
    assert exp.severity("label_drift") == "warn" and exp.severity("text_length") == "quarantine"
    hash(exp)


def test_import_does_not_load_great_expectations() -> None:
    code = (
        "import os, sys, validation.batch_checks; "
        "assert 'great_expectations' not in sys.modules, 'GX imported eagerly'; "
        "assert 'pandas' not in sys.modules, 'pandas imported eagerly'; "
        "assert os.environ['GX_ANALYTICS_ENABLED'] == 'false'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)
