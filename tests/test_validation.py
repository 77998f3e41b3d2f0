"""Tests for validation.batch_checks: each data check fails on its own, and a good batch passes."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from validation.batch_checks import (
    BatchExpectations,
    CheckResult,
    DataCheckFailed,
    ValidationReport,
    require_valid,
    validate_batch,
)

LABELS = ("negative", "positive")
ALL_CHECKS = {
    "required_columns",
    "text_not_null",
    "text_not_blank",
    "label_not_null",
    "label_in_label_set",
    "text_length",
    "min_new_rows",
    "no_duplicate_texts",
}
REPO_ROOT = Path(__file__).resolve().parents[1]


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


def only_failure(report: ValidationReport) -> CheckResult:
    """The single failed check, asserting that nothing else failed."""
    assert len(report.failed) == 1, report.summary()
    return report.failed[0]


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
    assert all(c.failed_rows == 0 and c.example_ids == () for c in report.checks)
    assert report.failed == ()
    assert report.summary() == f"{len(ALL_CHECKS)} checks passed"


def test_null_text_fails_text_not_null() -> None:
    frame = make_batch()
    frame.loc[[2, 5], "text"] = None

    failed = only_failure(validate_batch(frame, expectations()))

    assert failed.name == "text_not_null"
    assert failed.expectation == "expect_column_values_to_not_be_null"
    assert failed.failed_rows == 2
    assert failed.example_ids == (103, 106)
    assert failed.detail == "2 of 10 rows have a null text"


def test_blank_text_fails_text_not_blank() -> None:
    frame = make_batch()
    frame.loc[[0, 7], "text"] = ["   ", "\t\n "]

    failed = only_failure(validate_batch(frame, expectations()))

    assert failed.name == "text_not_blank"
    assert failed.expectation == "expect_column_values_to_not_match_regex"
    assert failed.failed_rows == 2
    assert failed.example_ids == (101, 108)


def test_unknown_label_fails_label_in_label_set() -> None:
    frame = make_batch(120)
    frame.loc[[3, 40, 99], "label"] = ["neutral", "Positive", "neutral"]

    failed = only_failure(validate_batch(frame, expectations()))

    assert failed.name == "label_in_label_set"
    assert failed.expectation == "expect_column_values_to_be_in_set"
    assert failed.failed_rows == 3
    assert failed.example_ids == (104, 141, 200)
    assert failed.detail == "3 of 120 rows have a label outside ['negative', 'positive']"


def test_null_label_fails_label_not_null_only() -> None:
    frame = make_batch()
    frame.loc[4, "label"] = None

    failed = only_failure(validate_batch(frame, expectations()))

    assert failed.name == "label_not_null"
    assert failed.failed_rows == 1
    assert failed.example_ids == (105,)


def test_too_long_text_fails_text_length() -> None:
    frame = make_batch()
    frame.loc[6, "text"] = "x" * 51

    failed = only_failure(validate_batch(frame, expectations(max_text_chars=50)))

    assert failed.name == "text_length"
    assert failed.expectation == "expect_column_value_lengths_to_be_between"
    assert failed.failed_rows == 1
    assert failed.example_ids == (107,)
    assert "[1, 50]" in failed.detail


def test_text_at_the_length_bounds_passes() -> None:
    frame = make_batch(2)
    frame["text"] = ["abc", "x" * 50]

    report = validate_batch(frame, expectations(min_text_chars=3, max_text_chars=50))

    assert check(report, "text_length").success, report.summary()


def test_too_short_text_fails_text_length() -> None:
    frame = make_batch()
    frame.loc[0, "text"] = "ok"

    failed = only_failure(validate_batch(frame, expectations(min_text_chars=3)))

    assert failed.name == "text_length"
    assert failed.example_ids == (101,)


def test_too_few_rows_fails_min_new_rows() -> None:
    failed = only_failure(validate_batch(make_batch(4), expectations(min_new_rows=50)))

    assert failed.name == "min_new_rows"
    assert failed.expectation == "expect_table_row_count_to_be_between"
    assert failed.failed_rows == 0
    assert failed.example_ids == ()
    assert failed.detail == "batch has 4 rows, fewer than min_new_rows=50"


def test_duplicate_texts_count_every_row_involved() -> None:
    frame = make_batch(20)
    frame.loc[[1, 8, 15], "text"] = "same text"
    frame.loc[[4, 5], "text"] = "other repeat"

    failed = only_failure(validate_batch(frame, expectations()))

    assert failed.name == "no_duplicate_texts"
    assert failed.expectation == "expect_column_values_to_be_unique"
    assert failed.failed_rows == 5
    assert failed.example_ids == (102, 105, 106, 109, 116)


def test_example_ids_are_capped_at_five_plain_ints() -> None:
    frame = make_batch(30)
    frame.loc[10:29, "label"] = "spam"

    failed = only_failure(validate_batch(frame, expectations()))

    assert failed.failed_rows == 20
    assert failed.example_ids == (111, 112, 113, 114, 115)
    assert all(type(i) is int for i in failed.example_ids)


def test_missing_label_column_skips_label_checks() -> None:
    report = validate_batch(make_batch().drop(columns=["label"]), expectations())

    failed = only_failure(report)
    assert failed.name == "required_columns"
    assert failed.expectation == "expect_column_to_exist"
    assert failed.failed_rows == 0
    assert failed.detail.startswith("missing column(s): label")
    names = {c.name for c in report.checks}
    assert "label_not_null" not in names
    assert "label_in_label_set" not in names
    assert check(report, "text_not_null").success


def test_missing_id_column_still_checks_rows_without_example_ids() -> None:
    frame = make_batch().drop(columns=["id"])
    frame.loc[3, "label"] = "neutral"

    report = validate_batch(frame, expectations())

    assert {c.name for c in report.failed} == {"required_columns", "label_in_label_set"}
    assert check(report, "required_columns").detail == "missing column(s): id"
    unknown = check(report, "label_in_label_set")
    assert unknown.failed_rows == 1
    assert unknown.example_ids == ()


def test_empty_frame_with_columns_fails_only_min_new_rows() -> None:
    report = validate_batch(make_batch(0), expectations())

    failed = only_failure(report)
    assert report.row_count == 0
    assert failed.name == "min_new_rows"
    assert failed.detail == "batch has 0 rows, fewer than min_new_rows=1"
    assert {c.name for c in report.checks} == ALL_CHECKS


def test_empty_frame_without_columns_reports_instead_of_raising() -> None:
    report = validate_batch(pd.DataFrame(), expectations())

    assert report.row_count == 0
    assert [c.name for c in report.checks] == ["required_columns", "min_new_rows"]
    assert not report.success
    assert check(report, "required_columns").detail.startswith("missing column(s): id, text, label")


def test_custom_column_names() -> None:
    frame = make_batch().rename(columns={"id": "row_id", "text": "body", "label": "sentiment"})
    frame.loc[2, "body"] = None
    custom = expectations(id_column="row_id", text_column="body", label_column="sentiment")

    failed = only_failure(validate_batch(frame, custom))

    assert failed.name == "text_not_null"
    assert failed.example_ids == (103,)
    assert failed.detail == "1 of 10 rows has a null body"


def test_string_ids_are_reported_as_is() -> None:
    frame = make_batch()
    frame["id"] = [f"row-{i}" for i in range(10)]
    frame.loc[9, "text"] = "  "

    failed = only_failure(validate_batch(frame, expectations()))

    assert failed.example_ids == ("row-9",)


def test_data_check_failed_names_expectation_and_count() -> None:
    frame = make_batch(120)
    frame.loc[[3, 40, 99], "label"] = "neutral"
    report = validate_batch(frame, expectations())

    with pytest.raises(DataCheckFailed) as caught:
        require_valid(report)

    message = str(caught.value)
    assert caught.value.report is report
    assert "expect_column_values_to_be_in_set" in message
    assert "3 rows failing" in message
    assert "expect_column_to_exist" not in message


def test_data_check_failed_survives_pickling() -> None:
    report = validate_batch(make_batch(2), expectations(min_new_rows=5))

    error = pickle.loads(pickle.dumps(DataCheckFailed(report)))

    assert error.report == report
    assert "expect_table_row_count_to_be_between" in str(error)


def test_require_valid_returns_the_report_on_success() -> None:
    report = validate_batch(make_batch(), expectations())

    assert require_valid(report) is report


def test_summary_and_rows_describe_failures() -> None:
    frame = make_batch()
    frame.loc[0, "text"] = None
    report = validate_batch(frame, expectations(min_new_rows=20))

    lines = report.summary().splitlines()
    assert lines == [
        "text_not_null (expect_column_values_to_not_be_null): "
        "1 of 10 rows has a null text; example ids: 101",
        "min_new_rows (expect_table_row_count_to_be_between): "
        "batch has 10 rows, fewer than min_new_rows=20",
    ]
    rows = report.as_rows()
    assert len(rows) == len(report.checks)
    assert set(rows[0]) == {"name", "expectation", "success", "failed_rows", "detail"}
    assert {r["name"]: r["failed_rows"] for r in rows if not r["success"]} == {
        "text_not_null": 1,
        "min_new_rows": 0,
    }


def test_no_progress_bars_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    validate_batch(make_batch(), expectations())

    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err
    assert "%|" not in captured.err


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
    ],
)
def test_inconsistent_expectations_are_rejected(overrides: dict[str, object]) -> None:
    params: dict[str, object] = {"labels": LABELS, **overrides}
    with pytest.raises(ValueError):
        BatchExpectations(**params)  # type: ignore[arg-type]


def test_labels_are_stored_as_a_tuple() -> None:
    exp = BatchExpectations(labels=["positive", "negative"])  # type: ignore[arg-type]

    assert exp.labels == ("positive", "negative")
    hash(exp)


def test_import_does_not_load_great_expectations() -> None:
    code = (
        "import os, sys, validation.batch_checks; "
        "assert 'great_expectations' not in sys.modules, 'GX imported eagerly'; "
        "assert 'pandas' not in sys.modules, 'pandas imported eagerly'; "
        "assert os.environ['GX_ANALYTICS_ENABLED'] == 'false'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)
