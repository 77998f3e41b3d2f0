"""The frame GX validates: the batch's needed columns (strings as objects) and the helper columns the checks
read (row position, normalised text, matches with stored rows), which checks cannot run and why, and the
``Facts`` a check's entry reads about it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from data.normalise import normalize_text
from validation.batch_expectations import BatchExpectations, ReferenceData
from validation.checks import CHECKS
from validation.data_check import (
    BATCH,
    CONFIDENCE,
    HELD_OUT_COLUMN,
    KEY_COLUMN,
    LABEL,
    NEAR_KEY_COLUMN,
    OFF,
    ROW,
    ROW_COLUMN,
    STORED_CONFLICT_COLUMN,
    STORED_DUPLICATE_COLUMN,
    TEXT,
    DataCheck,
    Facts,
    plain,
)

TRAIN, TEST = "train", "test"  # the split names of ReferenceData.rows (as data.store writes them)


class Batch:
    """The frame GX validates (the needed columns, strings as objects, helper columns) and what can run."""

    def __init__(self, exp: BatchExpectations, work: pd.DataFrame, reference: ReferenceData | None) -> None:
        self.exp = exp
        self.work = work
        self.reference = reference
        self.skipped: dict[str, str] = {}
        self.type_problems: set[str] = set()
        self.confidence: str | None = None
        self.median_length: float | None = None
        self.length_basis = ""
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


def facts(batch: Batch, check: DataCheck, **extra: Any) -> Facts:
    """What ``check``'s entry reads about the batch: its columns and measurements, and the thresholds the entry
    declares (reading another is an AttributeError, so an entry's ``thresholds`` are all it reads)."""
    exp, reference = batch.exp, batch.reference
    return Facts(
        id=exp.id_column, text=exp.text_column, label=exp.label_column, confidence=batch.confidence,
        labels=exp.labels, required_columns=exp.required_columns, has_ids=batch.has_ids, present=batch.present,
        row_count=len(batch.work), skipped=batch.skipped, median_length=batch.median_length,
        length_basis=batch.length_basis, stored_label_counts=reference.label_counts if reference is not None else None,
        **{name: getattr(exp, name) for name in check.thresholds}, **extra,
    )


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
    for check in CHECKS:
        if exp.severity(check.name) == OFF:
            skipped[check.name] = "turned off (severity off)"
    # Structure checks are the ones that report a missing or mistyped column; the others are skipped.
    judging = [check for check in CHECKS if check.kind in (ROW, BATCH)]
    for column, role in ((exp.text_column, TEXT), (exp.label_column, LABEL)):
        if column not in frame.columns:
            why = f"column {column} is missing"
        elif column in batch.type_problems:
            why = f"column {column} holds values that are not strings"
        else:
            continue
        for check in judging:
            if role in check.columns:
                skipped.setdefault(check.name, why)
    why = None
    if batch.confidence is None:
        why = "the batch has no confidence column"
    elif batch.confidence in batch.type_problems:
        why = f"column {batch.confidence} holds values that are not numbers"
    for check in judging:
        if why and CONFIDENCE in check.columns:
            skipped.setdefault(check.name, why)
    if batch.reference is None:
        for check in judging:
            if check.needs_stored:
                skipped.setdefault(check.name, "no champion yet: no stored rows to compare with")
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
        batch.median_length = median

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
        column[chosen["row"].to_numpy()] = [plain(i) for i in chosen["id"]]
        return column

    batch.work[STORED_DUPLICATE_COLUMN] = first_id(matches[same_label & (matches["split"] == TRAIN)])
    conflicts = matches[~same_label & matches["label"].notna()]
    batch.work[STORED_CONFLICT_COLUMN] = first_id(conflicts)
    batch.work[HELD_OUT_COLUMN] = first_id(matches[matches["split"] == TEST])
    pairs = zip(conflicts["id"], conflicts["label_stored"], strict=True)
    batch.stored_labels = {plain(row_id): stored_label for row_id, stored_label in pairs}
