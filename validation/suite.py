"""The two GX suites behind ``validate_batch`` and how their results become checks and quarantined rows.

Not public: ``validation.batch_checks.validate_batch`` is the entry point. Imported only when a
batch is validated (it needs pandas; GX is passed in already imported).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from validation.batch_checks import (
    BATCH_CHECKS,
    FAIL,
    FAILED,
    HARD_CHECKS,
    OFF,
    PASSED,
    QUARANTINE,
    QUARANTINED,
    ROW_CHECKS,
    SHARE_CHECK,
    STRUCTURE_CHECKS,
    WARN,
    WARNED,
    BatchExpectations,
    CheckResult,
    FlaggedRow,
    ReferenceData,
)
from validation.text import CONTROL_PATTERN, GARBAGE_PATTERN, first_match, garbage_share, normalize_text, pattern_share

TRAIN, TEST = "train", "test"  # the split names of ReferenceData.rows (as data.store writes them)
_MAX_EXAMPLE_IDS = 5

# Columns added to the validated frame; GX reports them like any other column.
ROW_COLUMN = "batch_row"  # position in the batch: maps results back to rows whatever the ids are
KEY_COLUMN = "normalized_text"
NEAR_KEY_COLUMN = "near_duplicate_key"  # the normalised text; null for exact repeats, counted once already
STORED_DUPLICATE_COLUMN = "duplicate_of_stored_row"
STORED_CONFLICT_COLUMN = "label_conflicts_with_stored_row"
HELD_OUT_COLUMN = "in_held_out_set_as_row"
QUARANTINED_COLUMN = "quarantined"

# The GX meta key that ties each expectation result back to its check, since
# GX does not return results in suite order.
META_KEY = "retrain_check"

_TEXT_CHECKS = ("text_not_null", "text_not_blank", "text_length", "length_outlier", "encoding_garbage",
                "control_characters", "duplicate_text", "near_duplicate_text", "conflicting_labels",
                "duplicate_of_stored", "test_set_leakage")
_LABEL_CHECKS = ("label_not_null", "label_in_label_set", "conflicting_labels", "duplicate_of_stored",
                 "label_drift", "class_imbalance")
_NUMBER_TYPES = ["int", "float", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


class Batch:
    """The frame GX validates (the needed columns, strings as objects, helper columns) and what can run."""

    def __init__(self, exp: BatchExpectations, work: pd.DataFrame, reference: ReferenceData | None) -> None:
        self.exp = exp
        self.work = work
        self.reference = reference
        self.skipped: dict[str, str] = {}
        self.type_problems: set[str] = set()
        self.confidence: str | None = None
        self.length_bound: int | None = None
        self.length_basis = ""
        self.median_length = 0.0
        self.stored_labels: dict[Any, str] = {}

    @property
    def has_ids(self) -> bool:
        return self.exp.id_column in self.work.columns

    def present(self, column: str | None) -> bool:
        return column is not None and column in self.work.columns

    def runs(self, check: str) -> bool:
        return check not in self.skipped

    def ids(self) -> pd.Series:
        """Each row's id, or its position when the batch has no id column."""
        return self.work[self.exp.id_column] if self.has_ids else self.work[ROW_COLUMN]


def index_columns(batch: Batch) -> list[str]:
    """The columns GX reports for each failing row."""
    return [batch.exp.id_column, ROW_COLUMN] if batch.has_ids else [ROW_COLUMN]


def prepare(frame: pd.DataFrame, exp: BatchExpectations, reference: ReferenceData | None) -> Batch:
    """The frame to validate, with its helper columns, and the checks that cannot run and why."""
    frame = frame.reset_index(drop=True)
    work = pd.DataFrame({ROW_COLUMN: pd.RangeIndex(len(frame))})
    for column in exp.required_columns:
        if column in frame.columns:
            # Strings as plain Python objects: GX's type and regex expectations then judge them
            # value by value, whatever string dtype pandas chose.
            work[column] = frame[column] if column == exp.id_column else frame[column].astype(object)
    batch = Batch(exp, work, reference)
    if exp.confidence_column and exp.confidence_column in frame.columns:
        batch.confidence = exp.confidence_column
        work[exp.confidence_column] = frame[exp.confidence_column]
    for column in (exp.text_column, exp.label_column):
        if batch.present(column) and not _all_strings(work[column]):
            batch.type_problems.add(column)
    if batch.confidence and not _all_numbers(work[batch.confidence]):
        batch.type_problems.add(batch.confidence)
    _skip_what_cannot_run(batch, frame)
    if batch.present(exp.text_column) and exp.text_column not in batch.type_problems:
        _add_text_features(batch)
    return batch


def _all_strings(values: pd.Series) -> bool:
    return pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


def _all_numbers(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return True
    return pd.api.types.infer_dtype(values, skipna=True) in ("integer", "floating", "mixed-integer-float", "empty")


def _skip_what_cannot_run(batch: Batch, frame: pd.DataFrame) -> None:
    exp, skipped = batch.exp, batch.skipped
    for name in ROW_CHECKS + BATCH_CHECKS:
        if exp.severity(name) == OFF:
            skipped[name] = "turned off (severity off)"
    for column, checks in ((exp.text_column, _TEXT_CHECKS), (exp.label_column, _LABEL_CHECKS)):
        if column not in frame.columns:
            why = f"column {column} is missing"
        elif column in batch.type_problems:
            why = f"column {column} holds values that are not strings"
        else:
            continue
        for name in checks:
            skipped.setdefault(name, why)
    if batch.confidence is None:
        skipped.setdefault("low_confidence", "the batch has no confidence column")
    elif batch.confidence in batch.type_problems:
        skipped.setdefault("low_confidence", f"column {batch.confidence} holds values that are not numbers")
    if batch.reference is None:
        for name in ("duplicate_of_stored", "test_set_leakage", "label_drift"):
            skipped.setdefault(name, "no champion yet: no stored rows to compare with")
    if not batch.has_ids:
        skipped["unique_ids"] = f"column {exp.id_column} is missing"
    if not any(batch.present(c) for c in (exp.text_column, exp.label_column, batch.confidence)):
        skipped["column_types"] = "none of the typed columns is present"


def _add_text_features(batch: Batch) -> None:
    exp, work = batch.exp, batch.work
    texts = work[exp.text_column]
    usable = texts.notna() & (texts.astype(str).str.strip() != "")
    keys = pd.Series(None, index=work.index, dtype=object)
    keys[usable] = texts[usable].map(normalize_text)
    work[KEY_COLUMN] = keys
    # An exact repeat is reported by duplicate_text; near_duplicate_text reports what only normalising finds.
    exact_repeat = usable & texts.duplicated(keep="first")
    work[NEAR_KEY_COLUMN] = keys.where(~exact_repeat, None)

    if batch.runs("length_outlier"):
        median = batch.reference.median_length if batch.reference is not None else None
        batch.length_basis = "the stored rows'"
        lengths = texts[usable].astype(str).str.len()
        if median is None and len(lengths):
            median, batch.length_basis = float(lengths.median()), "this batch's"
        if median is None:
            batch.skipped["length_outlier"] = "no texts to measure"
        else:
            batch.median_length = median
            batch.length_bound = max(exp.min_text_chars, math.ceil(exp.length_outlier_factor * median))

    if batch.reference is not None and batch.present(exp.label_column) and exp.label_column not in batch.type_problems:
        _match_reference(batch, keys, usable)


def _match_reference(batch: Batch, keys: pd.Series, usable: pd.Series) -> None:
    """Helper columns naming, per row, a stored row it duplicates, contradicts, or leaks into the test set as."""
    label = batch.exp.label_column
    ours = pd.DataFrame({"row": batch.work.index[usable], "key": keys[usable], "label": batch.work[label][usable]})
    stored = batch.reference.keyed
    matches = ours.merge(stored, on="key", suffixes=("", "_stored"))
    same_label = matches["label"] == matches["label_stored"]

    def first_id(selected: pd.DataFrame) -> pd.Series:
        chosen = selected.sort_values("id").drop_duplicates("row")
        column = pd.Series(None, index=batch.work.index, dtype=object)
        column[chosen["row"].to_numpy()] = [_plain(i) for i in chosen["id"]]
        return column

    batch.work[STORED_DUPLICATE_COLUMN] = first_id(matches[same_label & (matches["split"] == TRAIN)])
    conflicts = matches[~same_label & matches["label"].notna()]
    batch.work[STORED_CONFLICT_COLUMN] = first_id(conflicts)
    batch.work[HELD_OUT_COLUMN] = first_id(matches[matches["split"] == TEST])
    pairs = zip(conflicts["id"], conflicts["label_stored"], strict=True)
    batch.stored_labels = {_plain(row_id): stored_label for row_id, stored_label in pairs}



# --- the suites ---------------------------------------------------------------------------------


_DOING = {QUARANTINE: "quarantines failing rows", WARN: "warns", FAIL: "refuses the batch"}


def _description(check: str, severity: str, about: str) -> str:
    """What a Data Docs page shows for an expectation: the check it belongs to, what it does, and why."""
    return f"**{check}** ({_DOING[severity]}): {about}"


def row_suite(gx: Any, batch: Batch) -> Any:
    """Structure and row checks, on every row of the batch."""
    import great_expectations.expectations as gxe

    from validation import expectations as custom

    x = custom.load()
    exp = batch.exp
    text, label, confidence = exp.text_column, exp.label_column, batch.confidence
    items: list[Any] = []

    def add(check: str, about: str, expectation: type, **kwargs: Any) -> None:
        if check in STRUCTURE_CHECKS or batch.runs(check):
            items.append(expectation(**kwargs, meta={META_KEY: check},
                                     description=_description(check, exp.severity(check), about)))

    for column in exp.required_columns:
        add("required_columns", f"column {column} exists", gxe.ExpectColumnToExist, column=column)
    for column, types in ((text, ["str"]), (label, ["str"]), (confidence, _NUMBER_TYPES)):
        if batch.present(column):
            kind = "numbers" if column == confidence else "strings"
            add("column_types", f"{column} holds {kind}", gxe.ExpectColumnValuesToBeInTypeList, column=column,
                type_list=types)
    if batch.has_ids:
        add("unique_ids", f"every {exp.id_column} is unique", gxe.ExpectColumnValuesToBeUnique,
            column=exp.id_column)
    add("text_not_null", f"{text} is never null", gxe.ExpectColumnValuesToNotBeNull, column=text)
    add("text_not_blank", f"{text} is never blank", gxe.ExpectColumnValuesToNotMatchRegex, column=text,
        regex=r"^\s*$")
    add("label_not_null", f"{label} is never null", gxe.ExpectColumnValuesToNotBeNull, column=label)
    add("label_in_label_set", f"{label} is one of {list(exp.labels)}", gxe.ExpectColumnValuesToBeInSet,
        column=label, value_set=list(exp.labels))
    add("text_length", f"{text} is {exp.min_text_chars} to {exp.max_text_chars} characters long",
        gxe.ExpectColumnValueLengthsToBeBetween, column=text, min_value=exp.min_text_chars,
        max_value=exp.max_text_chars)
    if batch.length_bound is not None:
        add("length_outlier", f"{text} is at most {batch.length_bound} characters long "
            f"({exp.length_outlier_factor:g}x the median length {batch.median_length:g} of {batch.length_basis} "
            "texts)", gxe.ExpectColumnValueLengthsToBeBetween, column=text, max_value=batch.length_bound)
    add("encoding_garbage", f"at most {exp.max_garbage_share:.0%} of each {text} is encoding garbage "
        "(replacement characters, C1 controls, mojibake such as Ã© or â€™)",
        x.ExpectColumnValuesToHaveCharacterShareAtMost, column=text, pattern=GARBAGE_PATTERN,
        max_share=exp.max_garbage_share)
    add("control_characters", f"at most {exp.max_control_share:.0%} of each {text} is control characters "
        "(other than tab and line breaks)", x.ExpectColumnValuesToHaveCharacterShareAtMost, column=text,
        pattern=CONTROL_PATTERN, max_share=exp.max_control_share)
    add("duplicate_text", f"no {text} repeats an earlier row's", x.ExpectColumnValuesToBeFirstOccurrences,
        column=text)
    if batch.present(KEY_COLUMN):
        add("near_duplicate_text", f"no {text} repeats an earlier row's after normalisation (case, punctuation, "
            "spacing, URLs); exact repeats are counted by duplicate_text", x.ExpectColumnValuesToBeFirstOccurrences,
            column=NEAR_KEY_COLUMN)
        add("conflicting_labels", f"rows with the same normalised {text} carry the same {label}",
            x.ExpectColumnPairValuesAToDetermineB, column_A=KEY_COLUMN, column_B=label)
    for check, column, about in (
        ("conflicting_labels", STORED_CONFLICT_COLUMN, f"no stored row has the same normalised {text} with "
                                                       f"another {label}"),
        ("duplicate_of_stored", STORED_DUPLICATE_COLUMN, f"no stored training row has the same normalised {text} "
                                                         f"and {label}"),
        ("test_set_leakage", HELD_OUT_COLUMN, f"no held-out (test) row has the same normalised {text}: it would "
                                              "inflate the challenger's score"),
    ):
        if batch.present(column):
            add(check, about, gxe.ExpectColumnValuesToBeNull, column=column)
    if confidence is not None:
        add("low_confidence", f"annotator {confidence} is within [{exp.min_confidence:g}, 1] where given",
            gxe.ExpectColumnValuesToBeBetween, column=confidence, min_value=exp.min_confidence, max_value=1.0)
    # Never added to the context: it is rebuilt from code, so there is nothing to store.
    return gx.ExpectationSuite(name="retrain_row_checks", expectations=items)


def batch_suite(gx: Any, batch: Batch) -> Any:
    """The quarantine bound on every row; the batch checks on the rows that proceed."""
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    from validation import expectations as custom

    exp = batch.exp
    proceeding = Column(QUARANTINED_COLUMN) == False  # noqa: E712 - a GX row condition, not a comparison
    items: list[Any] = []
    if bool(batch.work[QUARANTINED_COLUMN].all()):  # an empty batch too: min_new_rows speaks for it
        for name in ("label_drift", "class_imbalance"):
            batch.skipped.setdefault(name, "no rows proceed: no label shares to judge")

    def add(check: str, about: str, expectation: type, **kwargs: Any) -> None:
        if check == SHARE_CHECK or batch.runs(check):
            severity = FAIL if check == SHARE_CHECK else exp.severity(check)
            items.append(expectation(**kwargs, meta={META_KEY: check},
                                     description=_description(check, severity, about)))

    add(SHARE_CHECK, f"at most {exp.max_quarantine_share:.0%} of the rows are quarantined",
        gxe.ExpectColumnValuesToBeInSet, column=QUARANTINED_COLUMN, value_set=[False],
        mostly=1.0 - exp.max_quarantine_share)
    add("min_new_rows", f"at least {exp.min_new_rows} rows proceed", gxe.ExpectTableRowCountToBeBetween,
        min_value=exp.min_new_rows, row_condition=proceeding)
    if batch.present(exp.label_column) and batch.reference is not None:
        add("label_drift", f"the KL divergence of the proceeding rows' {exp.label_column} shares from the stored "
            f"rows' is at most {exp.max_label_kl:g}", gxe.ExpectColumnKLDivergenceToBeLessThan,
            column=exp.label_column, partition_object=_reference_partition(batch), threshold=exp.max_label_kl,
            row_condition=proceeding)
    if batch.present(exp.label_column):
        add("class_imbalance", f"each {exp.label_column} makes up {exp.min_class_share:.0%} to "
            f"{exp.max_class_share:.0%} of the proceeding rows", custom.load().ExpectColumnValueSharesToBeBetween,
            column=exp.label_column, value_set=list(exp.labels), min_share=exp.min_class_share,
            max_share=exp.max_class_share, row_condition=proceeding)
    return gx.ExpectationSuite(name="retrain_batch_checks", expectations=items)


def _reference_partition(batch: Batch) -> dict:
    """The stored rows' label shares, add-one smoothed so a label they lack does not make drift infinite."""
    counts = batch.reference.label_counts
    labels = list(batch.exp.labels)
    total = sum(counts.get(label, 0) for label in labels) + len(labels)
    return {"values": labels, "weights": [(counts.get(label, 0) + 1) / total for label in labels]}


# --- results -> checks --------------------------------------------------------------------------


@dataclass
class RowOutcomes:
    """The structure and row checks, the rows to quarantine, and a mask of them over the batch."""

    checks: list[CheckResult]
    flagged: tuple[FlaggedRow, ...]
    quarantine_mask: pd.Series


def _by_check(results: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for result in results:
        grouped.setdefault(result.expectation_config.meta[META_KEY], []).append(result)
    return grouped


def row_outcomes(results: list[Any], batch: Batch, released: Mapping[Any, Collection[str]]) -> RowOutcomes:
    """Structure and row checks from the first suite's results; the rows to quarantine and why."""
    exp, grouped = batch.exp, _by_check(results)
    checks = [_structure_check(name, grouped[name], batch) for name in STRUCTURE_CHECKS if name in grouped]
    ids_usable = batch.has_ids and all(c.success for c in checks if c.name == "unique_ids")
    ids = batch.ids()
    reasons: dict[int, list[tuple[str, str]]] = {}
    row_count = len(batch.work)
    context = _ReasonContext(batch)
    for name in ROW_CHECKS:
        if name not in grouped:
            continue
        error = next(filter(None, map(_exception_message, grouped[name])), None)
        expectation = grouped[name][0].expectation_config.type
        severity = exp.severity(name)
        if error:
            checks.append(_errored(name, expectation, error, severity))
            continue
        failing: dict[int, Mapping[str, Any]] = {}
        for result in grouped[name]:
            for row in result.result.get("unexpected_index_list") or ():
                failing.setdefault(int(row[ROW_COLUMN]), row)
        positions = sorted(failing)
        # A person released these rows from this check; rows that cannot be trained on are never exempt.
        exempt = set() if name in HARD_CHECKS or not released else {
            p for p in positions if name in released.get(_plain(ids.iat[p]), ())}
        verb = "has" if len(positions) == 1 else "have"
        detail = f"{len(positions)} of {_rows(row_count)} {verb} {_what(name, batch)}"
        status = PASSED
        to_quarantine = [p for p in positions if p not in exempt]
        if exempt:
            detail += f"; {len(exempt)} released by a person earlier and not quarantined again"
        if to_quarantine:
            status = {WARN: WARNED, FAIL: FAILED, QUARANTINE: QUARANTINED}[severity]
            if status == QUARANTINED and not ids_usable:
                status = FAILED
                detail += f"; rows cannot be quarantined without unique {exp.id_column} values"
            if status == QUARANTINED:
                for p in to_quarantine:
                    reasons.setdefault(p, []).append((name, context.reason(name, failing[p], p)))
        shown = (to_quarantine or positions)[:_MAX_EXAMPLE_IDS] if batch.has_ids else []
        checks.append(CheckResult(
            name=name, expectation=expectation, success=status != FAILED, failed_rows=len(positions),
            detail=detail, example_ids=tuple(_plain(ids.iat[p]) for p in shown), severity=severity, status=status,
        ))
    mask = pd.Series(False, index=batch.work.index)
    if reasons:
        mask[sorted(reasons)] = True
    flagged = tuple(FlaggedRow(row_id=_plain(ids.iat[p]), reasons=tuple(reasons[p])) for p in sorted(reasons))
    return RowOutcomes(checks=checks, flagged=flagged, quarantine_mask=mask)


def _structure_check(name: str, results: list[Any], batch: Batch) -> CheckResult:
    exp = batch.exp
    expectation = results[0].expectation_config.type
    error = next(filter(None, map(_exception_message, results)), None)
    if error:
        return _errored(name, expectation, error, FAIL)
    success = all(result.success for result in results)
    failed_rows = 0
    examples: tuple = ()
    if name == "required_columns":
        missing = [r.expectation_config.kwargs["column"] for r in results if not r.success]
        detail = "all required columns present"
        if missing:
            detail = "missing column(s): " + ", ".join(missing)
            not_run = [c for c in ROW_CHECKS + BATCH_CHECKS if batch.skipped.get(c, "").endswith("is missing")]
            if not_run:
                detail += "; not run: " + ", ".join(not_run)
    elif name == "column_types":
        wrong = []
        for result in results:
            if result.success:
                continue
            column = result.expectation_config.kwargs["column"]
            rows = result.result.get("unexpected_index_list") or ()
            expected = "numbers" if column == batch.confidence else "strings"
            if rows:
                failed_rows += len(rows)
                kinds = sorted({type(row.get(column)).__name__ for row in rows})
                examples += tuple(_plain(row[exp.id_column]) for row in rows if exp.id_column in row)
                wrong.append(f"{column} holds {', '.join(kinds)} values in {_rows(len(rows))}, expected {expected}")
            else:
                observed = result.result.get("observed_value")
                wrong.append(f"{column} is of type {observed}, expected {expected}")
        detail = "; ".join(wrong) if wrong else "text and label hold strings" + (
            f", {batch.confidence} numbers" if batch.confidence else "")
        examples = examples[:_MAX_EXAMPLE_IDS]
    else:  # unique_ids
        result = results[0]
        failed_rows = int(result.result.get("unexpected_count") or 0)
        rows = result.result.get("unexpected_index_list") or ()
        examples = tuple(dict.fromkeys(_plain(row[exp.id_column]) for row in rows))[:_MAX_EXAMPLE_IDS]
        detail = (f"{failed_rows} of {_rows(len(batch.work))} share their {exp.id_column} with another row; "
                  "rows are quarantined and trained on by id, so ids must be unique") if failed_rows \
            else f"every {exp.id_column} is unique"
    return CheckResult(name=name, expectation=expectation, success=success, failed_rows=failed_rows,
                       detail=detail, example_ids=examples, severity=FAIL, status=PASSED if success else FAILED)


def batch_outcomes(results: list[Any], batch: Batch) -> list[CheckResult]:
    """The quarantine bound and the batch checks from the second suite's results."""
    exp, checks = batch.exp, []
    for result in results:
        name = result.expectation_config.meta[META_KEY]
        expectation = result.expectation_config.type
        severity = FAIL if name == SHARE_CHECK else exp.severity(name)
        error = _exception_message(result)
        if error:
            checks.append(_errored(name, expectation, error, severity))
            continue
        details = result.result or {}
        if name == SHARE_CHECK:
            quarantined, total = int(details.get("unexpected_count") or 0), int(details.get("element_count") or 0)
            share = quarantined / total if total else 0.0
            detail = (f"{quarantined} of {_rows(total)} quarantined ({share:.1%}); "
                      f"at most {exp.max_quarantine_share:.0%} may be")
            failed_rows = quarantined
        elif name == "min_new_rows":
            observed = details.get("observed_value", 0)
            after = " after quarantine" if int(batch.work[QUARANTINED_COLUMN].sum()) else ""
            comparison = "fewer than" if not result.success else "at least"
            detail = f"batch has {_rows(observed)}{after}, {comparison} min_new_rows={exp.min_new_rows}"
            failed_rows = 0
        elif name == "label_drift":
            observed = details.get("observed_value")
            partition = (details.get("details") or {})
            shares = _shares(partition.get("observed_partition"))
            expected = _shares(partition.get("expected_partition"))
            kl = "infinite" if observed is None else f"{observed:.3f}"
            detail = (f"KL divergence {kl} of the label shares {shares} from the stored rows' {expected}; "
                      f"at most {exp.max_label_kl:g}")
            failed_rows = 0
        else:  # class_imbalance
            observed = details.get("observed_value") or {}
            shares = ", ".join(f"{label} {share:.0%}" for label, share in observed.items())
            detail = (f"label shares {shares}; each must lie within [{exp.min_class_share:.0%}, "
                      f"{exp.max_class_share:.0%}]") if shares else "no rows proceed: no label shares to judge"
            failed_rows = 0
        status = PASSED if result.success else (WARNED if severity == WARN else FAILED)
        checks.append(CheckResult(name=name, expectation=expectation, success=status != FAILED,
                                  failed_rows=failed_rows, detail=detail, severity=severity, status=status))
    return checks


def refused(check: CheckResult) -> CheckResult:
    """A quarantining row check whose rows are too many to quarantine: it refuses the batch."""
    return replace(check, success=False, status=FAILED,
                   detail=check.detail + "; too many rows to quarantine, so the batch is refused")


def _shares(partition: Mapping[str, Any] | None) -> str:
    if not partition:
        return "{}"
    pairs = zip(partition.get("values", ()), partition.get("weights", ()), strict=False)
    return "{" + ", ".join(f"{value}: {weight:.0%}" for value, weight in pairs) + "}"


def _what(name: str, batch: Batch) -> str:
    exp = batch.exp
    text, label = exp.text_column, exp.label_column
    control = ("control characters" if exp.max_control_share == 0
               else f"over {exp.max_control_share:.0%} control characters")
    return {
        "text_not_null": f"a null {text}",
        "text_not_blank": f"a blank (whitespace-only) {text}",
        "label_not_null": f"a null {label}",
        "label_in_label_set": f"a {label} outside {sorted(exp.labels)}",
        "text_length": f"a {text} length outside [{exp.min_text_chars}, {exp.max_text_chars}] chars",
        "length_outlier": f"a {text} longer than {batch.length_bound} chars ({exp.length_outlier_factor:g}x "
                          f"the median length of {batch.length_basis} texts, {batch.median_length:g})",
        "encoding_garbage": f"a {text} over {exp.max_garbage_share:.0%} encoding garbage "
                            "(replacement characters, mojibake, C1 controls)",
        "control_characters": f"a {text} with {control}",
        "duplicate_text": f"a {text} that an earlier row of the batch has too",
        "near_duplicate_text": f"a {text} that an earlier row has after normalisation (case, punctuation, "
                               "spacing, URLs)",
        "conflicting_labels": f"a {text} that other rows carry with another {label}",
        "duplicate_of_stored": f"a {text} already stored with the same {label}",
        "test_set_leakage": f"a {text} that is in the held-out test set",
        "low_confidence": f"an annotator confidence outside [{exp.min_confidence:g}, 1]",
    }[name]


class _ReasonContext:
    """What a quarantined row's reason names: the earlier row it repeats, the stored row it matches."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self._firsts: dict[str, dict[Any, Any]] = {}
        self._labels_by_key: dict[Any, dict[Any, Any]] | None = None

    def _first(self, column: str) -> dict[Any, Any]:
        if column not in self._firsts:
            values = self.batch.work[column]
            first = values.notna() & ~values.duplicated(keep="first")
            self._firsts[column] = dict(zip(values[first], map(_plain, self.batch.ids()[first]), strict=True))
        return self._firsts[column]

    def _labels(self) -> dict[Any, dict[Any, Any]]:
        if self._labels_by_key is None:
            work, label = self.batch.work, self.batch.exp.label_column
            pairs = work[[KEY_COLUMN, label]].assign(id=self.batch.ids()).dropna(subset=[KEY_COLUMN, label])
            pairs = pairs.drop_duplicates([KEY_COLUMN, label])
            self._labels_by_key = {}
            for key, value, row_id in pairs.itertuples(index=False):
                self._labels_by_key.setdefault(key, {})[value] = _plain(row_id)
        return self._labels_by_key

    def reason(self, name: str, row: Mapping[str, Any], position: int) -> str:
        exp, batch = self.batch.exp, self.batch
        text = batch.work[exp.text_column].iat[position] if batch.present(exp.text_column) else None
        label = batch.work[exp.label_column].iat[position] if batch.present(exp.label_column) else None
        if name == "text_not_null":
            return "text is null"
        if name == "text_not_blank":
            return "text is blank"
        if name == "label_not_null":
            return "label is null"
        if name == "label_in_label_set":
            return f"label {label!r} is not one of {list(exp.labels)}"
        if name == "text_length":
            return f"text has {len(text)} chars, outside [{exp.min_text_chars}, {exp.max_text_chars}]"
        if name == "length_outlier":
            return (f"text has {len(text)} chars, over {batch.length_bound} ({exp.length_outlier_factor:g}x the "
                    f"median of {batch.length_basis} texts)")
        if name == "encoding_garbage":
            return f"{garbage_share(text):.0%} of the text is encoding garbage (at most {exp.max_garbage_share:.0%})"
        if name == "control_characters":
            return (f"{pattern_share(text, CONTROL_PATTERN):.1%} of the text is control characters, e.g. "
                    f"{first_match(text, CONTROL_PATTERN)}")
        if name == "duplicate_text":
            return f"same text as row {self._first(exp.text_column).get(text)}"
        if name == "near_duplicate_text":
            return f"same text as row {self._first(NEAR_KEY_COLUMN).get(row.get(NEAR_KEY_COLUMN))} after normalisation"
        if name == "conflicting_labels":
            stored = row.get(STORED_CONFLICT_COLUMN)
            if stored is not None:
                return (f"labeled {label!r}, but stored row {stored} with the same normalised text is labeled "
                        f"{batch.stored_labels.get(stored)!r}")
            others = {v: i for v, i in self._labels().get(row.get(KEY_COLUMN), {}).items() if v != label}
            return f"labeled {label!r}, but " + ", ".join(
                f"row {i} with the same normalised text is labeled {v!r}" for v, i in others.items())
        if name == "duplicate_of_stored":
            return f"same normalised text and label as stored row {row.get(STORED_DUPLICATE_COLUMN)}"
        if name == "test_set_leakage":
            return f"same normalised text as held-out row {row.get(HELD_OUT_COLUMN)}"
        if name == "low_confidence":
            value = batch.work[batch.confidence].iat[position]
            return f"annotator confidence {value:g} outside [{exp.min_confidence:g}, 1]"
        raise KeyError(name)


def _errored(name: str, expectation: str, message: str, severity: str) -> CheckResult:
    # A check GX could not evaluate (e.g. a column of an unexpected type) must
    # block training rather than crash the caller or pass silently.
    return CheckResult(name=name, expectation=expectation, success=False, failed_rows=0,
                       detail=f"check could not run: {message}", severity=severity, status=FAILED)


def _exception_message(result: Any) -> str | None:
    """The error GX caught while evaluating this expectation, if any."""
    info = result.exception_info or {}
    # GX uses a flat dict for expectation-level errors and a dict keyed by
    # metric id for metric-resolution errors.
    candidates = [info] + [v for v in info.values() if isinstance(v, Mapping)]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "unknown error")
    return None


def _plain(value: Any) -> Any:
    """numpy scalars -> plain Python values, so reports compare and serialise cleanly."""
    return value.item() if hasattr(value, "item") else value


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"
