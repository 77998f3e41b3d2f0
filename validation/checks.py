"""Every data check, one ``DataCheck`` entry each, in report order: what it reads, the GX expectations it
builds, its severity and thresholds, and how it words what it finds.

A new check is one entry here (and its test): the suites are built from ``CHECKS`` (``validation.suites``),
their results read back through it (``validation.outcomes``), and the names, severities and the checks a
missing column skips all follow from it. An entry's functions read the batch's ``Facts`` (``b``) and, for a
row check's reason, the failing ``Row`` (``row``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from validation.data_check import (
    BATCH,
    BOUND,
    CONFIDENCE,
    FAIL,
    HELD_OUT_COLUMN,
    ID,
    KEY_COLUMN,
    LABEL,
    MAX_EXAMPLE_IDS,
    NEAR_KEY_COLUMN,
    QUARANTINE,
    QUARANTINED_COLUMN,
    ROW,
    STORED_CONFLICT_COLUMN,
    STORED_DUPLICATE_COLUMN,
    STRUCTURE,
    TEXT,
    DataCheck,
    Expect,
    Facts,
    Finding,
    Row,
    plain,
    rows,
)
from validation.text import CONTROL_PATTERN, GARBAGE_PATTERN, first_match, garbage_share, pattern_share

SHARE_CHECK = "quarantine_share"
_NUMBER_TYPES = ["int", "float", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


# --- what takes more than a line to build or word -------------------------------------------------


def _column_types(b: Facts) -> list[Expect]:
    typed = ((b.text, ["str"]), (b.label, ["str"]), (b.confidence, _NUMBER_TYPES))
    return [Expect("ExpectColumnValuesToBeInTypeList", f"{column} holds {_kind(b, column)}",
                   {"column": column, "type_list": types}) for column, types in typed if b.present(column)]


def _kind(b: Facts, column: str) -> str:
    return "numbers" if column == b.confidence else "strings"


def _missing_columns(b: Facts, results: list[Any]) -> Finding:
    missing = [r.expectation_config.kwargs["column"] for r in results if not r.success]
    if not missing:
        return Finding("all required columns present")
    detail = "missing column(s): " + ", ".join(missing)
    not_run = [c for c in ROW_CHECKS + BATCH_CHECKS if b.skipped.get(c, "").endswith("is missing")]
    return Finding(detail + ("; not run: " + ", ".join(not_run) if not_run else ""))


def _wrong_types(b: Facts, results: list[Any]) -> Finding:
    wrong, failed_rows, examples = [], 0, ()
    for result in results:
        if result.success:
            continue
        column = result.expectation_config.kwargs["column"]
        found = result.result.get("unexpected_index_list") or ()
        if found:
            failed_rows += len(found)
            kinds = sorted({type(row.get(column)).__name__ for row in found})
            examples += tuple(plain(row[b.id]) for row in found if b.id in row)
            wrong.append(f"{column} holds {', '.join(kinds)} values in {rows(len(found))}, "
                         f"expected {_kind(b, column)}")
        else:
            wrong.append(f"{column} is of type {result.result.get('observed_value')}, expected {_kind(b, column)}")
    detail = "; ".join(wrong) if wrong else "text and label hold strings" + (
        f", {b.confidence} numbers" if b.confidence else "")
    return Finding(detail, failed_rows, examples[:MAX_EXAMPLE_IDS])


def _shared_ids(b: Facts, results: list[Any]) -> Finding:
    result = results[0].result
    failed_rows = int(result.get("unexpected_count") or 0)
    found = result.get("unexpected_index_list") or ()
    examples = tuple(dict.fromkeys(plain(row[b.id]) for row in found))[:MAX_EXAMPLE_IDS]
    detail = (f"{failed_rows} of {rows(b.row_count)} share their {b.id} with another row; rows are quarantined "
              "and trained on by id, so ids must be unique") if failed_rows else f"every {b.id} is unique"
    return Finding(detail, failed_rows, examples)


def _length_bound(b: Facts) -> int:
    """The longest text that is no outlier: length_outlier_factor x the median length, at least min_text_chars."""
    return max(b.min_text_chars, math.ceil(b.length_outlier_factor * b.median_length))


def _conflict(b: Facts, row: Row) -> str:
    stored = row.found.get(STORED_CONFLICT_COLUMN)
    if stored is not None:
        return (f"labeled {row.label!r}, but stored row {stored} with the same normalised text is labeled "
                f"{b.stored_labels.get(stored)!r}")
    others = {v: i for v, i in b.labels_by_key(row.found.get(KEY_COLUMN)).items() if v != row.label}
    return f"labeled {row.label!r}, but " + ", ".join(
        f"row {i} with the same normalised text is labeled {v!r}" for v, i in others.items())


def _stored_shares(counts: Mapping[str, int], labels: Sequence[str]) -> dict:
    """The stored rows' label shares, add-one smoothed so a label they lack does not make drift infinite."""
    total = sum(counts.get(label, 0) for label in labels) + len(labels)
    return {"values": list(labels), "weights": [(counts.get(label, 0) + 1) / total for label in labels]}


def _quarantined_share(b: Facts, results: list[Any]) -> Finding:
    details = results[0].result or {}
    quarantined, total = int(details.get("unexpected_count") or 0), int(details.get("element_count") or 0)
    share = quarantined / total if total else 0.0
    return Finding(f"{quarantined} of {rows(total)} quarantined ({share:.1%}); "
                   f"at most {b.max_quarantine_share:.0%} may be", quarantined)


def _row_count(b: Facts, results: list[Any]) -> Finding:
    observed = (results[0].result or {}).get("observed_value", 0)
    after = " after quarantine" if b.quarantined else ""
    comparison = "fewer than" if not results[0].success else "at least"
    return Finding(f"batch has {rows(observed)}{after}, {comparison} min_new_rows={b.min_new_rows}")


def _drift(b: Facts, results: list[Any]) -> Finding:
    details = results[0].result or {}
    observed, partition = details.get("observed_value"), details.get("details") or {}
    kl = "infinite" if observed is None else f"{observed:.3f}"
    return Finding(f"KL divergence {kl} of the label shares {_shares(partition.get('observed_partition'))} from "
                   f"the stored rows' {_shares(partition.get('expected_partition'))}; at most {b.max_label_kl:g}")


def _shares(partition: Mapping[str, Any] | None) -> str:
    if not partition:
        return "{}"
    pairs = zip(partition.get("values", ()), partition.get("weights", ()), strict=False)
    return "{" + ", ".join(f"{value}: {weight:.0%}" for value, weight in pairs) + "}"


def _imbalance(b: Facts, results: list[Any]) -> Finding:
    observed = (results[0].result or {}).get("observed_value") or {}
    shares = ", ".join(f"{label} {share:.0%}" for label, share in observed.items())
    return Finding(f"label shares {shares}; each must lie within [{b.min_class_share:.0%}, {b.max_class_share:.0%}]"
                   if shares else "no rows proceed: no label shares to judge")


def _null(column: str, about: str) -> list[Expect]:
    return [Expect("ExpectColumnValuesToBeNull", about, {"column": column})]


# --- the checks -----------------------------------------------------------------------------------

CHECKS: tuple[DataCheck, ...] = (
    DataCheck(
        "required_columns", STRUCTURE, FAIL, columns=(ID, TEXT, LABEL), detail=_missing_columns,
        expect=lambda b: [Expect("ExpectColumnToExist", f"column {column} exists", {"column": column})
                          for column in b.required_columns]),
    DataCheck("column_types", STRUCTURE, FAIL, columns=(TEXT, LABEL, CONFIDENCE), expect=_column_types,
              detail=_wrong_types),
    DataCheck(
        "unique_ids", STRUCTURE, FAIL, columns=(ID,), detail=_shared_ids,
        expect=lambda b: [Expect("ExpectColumnValuesToBeUnique", f"every {b.id} is unique", {"column": b.id})]
        if b.has_ids else []),
    DataCheck(
        "text_not_null", ROW, QUARANTINE, columns=(TEXT,), hard=True,
        expect=lambda b: [Expect("ExpectColumnValuesToNotBeNull", f"{b.text} is never null", {"column": b.text})],
        finds=lambda b: f"a null {b.text}", reason=lambda b, row: "text is null"),
    DataCheck(
        "text_not_blank", ROW, QUARANTINE, columns=(TEXT,), hard=True,
        expect=lambda b: [Expect("ExpectColumnValuesToNotMatchRegex", f"{b.text} is never blank",
                                 {"column": b.text, "regex": r"^\s*$"})],
        finds=lambda b: f"a blank (whitespace-only) {b.text}", reason=lambda b, row: "text is blank"),
    DataCheck(
        "label_not_null", ROW, QUARANTINE, columns=(LABEL,), hard=True,
        expect=lambda b: [Expect("ExpectColumnValuesToNotBeNull", f"{b.label} is never null", {"column": b.label})],
        finds=lambda b: f"a null {b.label}", reason=lambda b, row: "label is null"),
    DataCheck(
        "label_in_label_set", ROW, QUARANTINE, columns=(LABEL,), hard=True,
        expect=lambda b: [Expect("ExpectColumnValuesToBeInSet", f"{b.label} is one of {list(b.labels)}",
                                 {"column": b.label, "value_set": list(b.labels)})],
        finds=lambda b: f"a {b.label} outside {sorted(b.labels)}",
        reason=lambda b, row: f"label {row.label!r} is not one of {list(b.labels)}"),
    DataCheck(
        "text_length", ROW, QUARANTINE, columns=(TEXT,), thresholds=("min_text_chars", "max_text_chars"),
        expect=lambda b: [Expect(
            "ExpectColumnValueLengthsToBeBetween", f"{b.text} is {b.min_text_chars} to {b.max_text_chars} characters "
            "long", {"column": b.text, "min_value": b.min_text_chars, "max_value": b.max_text_chars})],
        finds=lambda b: f"a {b.text} length outside [{b.min_text_chars}, {b.max_text_chars}] chars",
        reason=lambda b, row: f"text has {len(row.text)} chars, outside [{b.min_text_chars}, {b.max_text_chars}]"),
    DataCheck(
        "length_outlier", ROW, QUARANTINE, columns=(TEXT,), thresholds=("length_outlier_factor", "min_text_chars"),
        expect=lambda b: [Expect(
            "ExpectColumnValueLengthsToBeBetween", f"{b.text} is at most {_length_bound(b)} characters long "
            f"({b.length_outlier_factor:g}x the median length {b.median_length:g} of {b.length_basis} texts)",
            {"column": b.text, "max_value": _length_bound(b)})],
        finds=lambda b: f"a {b.text} longer than {_length_bound(b)} chars ({b.length_outlier_factor:g}x the median "
                        f"length of {b.length_basis} texts, {b.median_length:g})",
        reason=lambda b, row: f"text has {len(row.text)} chars, over {_length_bound(b)} "
                              f"({b.length_outlier_factor:g}x the median of {b.length_basis} texts)"),
    DataCheck(
        "encoding_garbage", ROW, QUARANTINE, columns=(TEXT,), thresholds=("max_garbage_share",),
        expect=lambda b: [Expect(
            "ExpectColumnValuesToHaveCharacterShareAtMost", f"at most {b.max_garbage_share:.0%} of each {b.text} is "
            "encoding garbage (replacement characters, C1 controls, mojibake such as Ã© or â€™)",
            {"column": b.text, "pattern": GARBAGE_PATTERN, "max_share": b.max_garbage_share})],
        finds=lambda b: f"a {b.text} over {b.max_garbage_share:.0%} encoding garbage (replacement characters, "
                        "mojibake, C1 controls)",
        reason=lambda b, row: f"{garbage_share(row.text):.0%} of the text is encoding garbage "
                              f"(at most {b.max_garbage_share:.0%})"),
    DataCheck(
        "control_characters", ROW, QUARANTINE, columns=(TEXT,), thresholds=("max_control_share",),
        expect=lambda b: [Expect(
            "ExpectColumnValuesToHaveCharacterShareAtMost", f"at most {b.max_control_share:.0%} of each {b.text} is "
            "control characters (other than tab and line breaks)",
            {"column": b.text, "pattern": CONTROL_PATTERN, "max_share": b.max_control_share})],
        finds=lambda b: f"a {b.text} with " + ("control characters" if b.max_control_share == 0
                                               else f"over {b.max_control_share:.0%} control characters"),
        reason=lambda b, row: f"{pattern_share(row.text, CONTROL_PATTERN):.1%} of the text is control characters, "
                              f"e.g. {first_match(row.text, CONTROL_PATTERN)}"),
    DataCheck(
        "duplicate_text", ROW, QUARANTINE, columns=(TEXT,),
        expect=lambda b: [Expect("ExpectColumnValuesToBeFirstOccurrences", f"no {b.text} repeats an earlier row's",
                                 {"column": b.text})],
        finds=lambda b: f"a {b.text} that an earlier row of the batch has too",
        reason=lambda b, row: f"same text as row {b.first_id(b.text, row.text)}"),
    DataCheck(
        "near_duplicate_text", ROW, QUARANTINE, columns=(TEXT,),
        expect=lambda b: [Expect(
            "ExpectColumnValuesToBeFirstOccurrences", f"no {b.text} repeats an earlier row's after normalisation "
            "(case, punctuation, spacing, URLs); exact repeats are counted by duplicate_text",
            {"column": NEAR_KEY_COLUMN})],
        finds=lambda b: f"a {b.text} that an earlier row has after normalisation (case, punctuation, spacing, URLs)",
        reason=lambda b, row: f"same text as row {b.first_id(NEAR_KEY_COLUMN, row.found.get(NEAR_KEY_COLUMN))} "
                              "after normalisation"),
    DataCheck(
        "conflicting_labels", ROW, QUARANTINE, columns=(TEXT, LABEL),
        expect=lambda b: [Expect(
            "ExpectColumnPairValuesAToDetermineB", f"rows with the same normalised {b.text} carry the same {b.label}",
            {"column_A": KEY_COLUMN, "column_B": b.label})] + (_null(
                STORED_CONFLICT_COLUMN, f"no stored row has the same normalised {b.text} with another {b.label}")
            if b.present(STORED_CONFLICT_COLUMN) else []),
        finds=lambda b: f"a {b.text} that other rows carry with another {b.label}", reason=_conflict),
    DataCheck(
        "duplicate_of_stored", ROW, QUARANTINE, columns=(TEXT, LABEL), needs_stored=True,
        expect=lambda b: _null(STORED_DUPLICATE_COLUMN, f"no stored training row has the same normalised {b.text} "
                               f"and {b.label}") if b.present(STORED_DUPLICATE_COLUMN) else [],
        finds=lambda b: f"a {b.text} already stored with the same {b.label}",
        reason=lambda b, row: f"same normalised text and label as stored row {row.found.get(STORED_DUPLICATE_COLUMN)}"),
    DataCheck(
        "test_set_leakage", ROW, QUARANTINE, columns=(TEXT,), needs_stored=True,
        expect=lambda b: _null(HELD_OUT_COLUMN, f"no held-out (test) row has the same normalised {b.text}: it would "
                               "inflate the challenger's score") if b.present(HELD_OUT_COLUMN) else [],
        finds=lambda b: f"a {b.text} that is in the held-out test set",
        reason=lambda b, row: f"same normalised text as held-out row {row.found.get(HELD_OUT_COLUMN)}"),
    DataCheck(
        "low_confidence", ROW, QUARANTINE, columns=(CONFIDENCE,), thresholds=("min_confidence",),
        expect=lambda b: [Expect(
            "ExpectColumnValuesToBeBetween", f"annotator {b.confidence} is within [{b.min_confidence:g}, 1] where "
            "given", {"column": b.confidence, "min_value": b.min_confidence, "max_value": 1.0})]
        if b.confidence is not None else [],
        finds=lambda b: f"an annotator confidence outside [{b.min_confidence:g}, 1]",
        reason=lambda b, row: f"annotator confidence {row.confidence:g} outside [{b.min_confidence:g}, 1]"),
    DataCheck(
        "min_new_rows", BATCH, FAIL, thresholds=("min_new_rows",), detail=_row_count,
        expect=lambda b: [Expect("ExpectTableRowCountToBeBetween", f"at least {b.min_new_rows} rows proceed",
                                 {"min_value": b.min_new_rows, "row_condition": b.proceeding})]),
    DataCheck(
        "label_drift", BATCH, FAIL, columns=(LABEL,), thresholds=("max_label_kl",), needs_stored=True, detail=_drift,
        expect=lambda b: [Expect(
            "ExpectColumnKLDivergenceToBeLessThan", f"the KL divergence of the proceeding rows' {b.label} shares from "
            f"the stored rows' is at most {b.max_label_kl:g}",
            {"column": b.label, "partition_object": _stored_shares(b.stored_label_counts, b.labels),
             "threshold": b.max_label_kl, "row_condition": b.proceeding})]
        if b.present(b.label) and b.stored_label_counts is not None else []),
    DataCheck(
        "class_imbalance", BATCH, FAIL, columns=(LABEL,), thresholds=("min_class_share", "max_class_share"),
        detail=_imbalance,
        expect=lambda b: [Expect(
            "ExpectColumnValueSharesToBeBetween", f"each {b.label} makes up {b.min_class_share:.0%} to "
            f"{b.max_class_share:.0%} of the proceeding rows",
            {"column": b.label, "value_set": list(b.labels), "min_share": b.min_class_share,
             "max_share": b.max_class_share, "row_condition": b.proceeding})] if b.present(b.label) else []),
    DataCheck(
        SHARE_CHECK, BOUND, FAIL, thresholds=("max_quarantine_share",), detail=_quarantined_share,
        expect=lambda b: [Expect(
            "ExpectColumnValuesToBeInSet", f"at most {b.max_quarantine_share:.0%} of the rows are quarantined",
            {"column": QUARANTINED_COLUMN, "value_set": [False], "mostly": 1.0 - b.max_quarantine_share})]),
)

# Everything below follows from the entries.
BY_NAME = {check.name: check for check in CHECKS}
STRUCTURE_CHECKS = tuple(check.name for check in CHECKS if check.kind == STRUCTURE)
ROW_CHECKS = tuple(check.name for check in CHECKS if check.kind == ROW)
BATCH_CHECKS = tuple(check.name for check in CHECKS if check.kind == BATCH)
# Report order; also the set of names a caller can rely on.
CHECK_ORDER = tuple(BY_NAME)
# Rows failing these cannot be trained on at all (fine-tuning needs a text and a known label): a person's
# release does not exempt a row from them, and they cannot be turned into warnings or off.
HARD_CHECKS = tuple(check.name for check in CHECKS if check.hard)
# Severities a deployment may choose per check; structure and the share bound always refuse.
ALLOWED_SEVERITIES = {check.name: check.allowed_severities for check in CHECKS if check.allowed_severities}
DEFAULT_SEVERITIES = {check.name: check.severity for check in CHECKS}
