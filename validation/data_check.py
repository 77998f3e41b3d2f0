"""What one data check is: a ``DataCheck`` entry, the GX expectations it builds (``Expect``), and what its
wording reads (``Facts`` about the batch, a failing ``Row``). Every check's entry is in ``validation.checks``.

Plain Python, no pandas and no GX: an ``Expect`` names its GX class, which ``validation.suites`` looks up
when it builds a suite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

# Severities: what a check does when it finds something.
QUARANTINE, WARN, FAIL, OFF = "quarantine", "warn", "fail", "off"
# Kinds: structure checks judge the columns (the batch cannot be judged row by row without them); row
# checks judge every row; batch checks judge the rows that proceed; the bound caps what row checks quarantine.
STRUCTURE, ROW, BATCH, BOUND = "structure", "row", "batch", "bound"
# Column roles a check reads; BatchExpectations names the batch's column for each.
ID, TEXT, LABEL, CONFIDENCE = "id", "text", "label", "confidence"

# Columns validation.frame adds to the validated frame; GX reports them like any other column.
ROW_COLUMN = "batch_row"  # position in the batch: maps results back to rows whatever the ids are
KEY_COLUMN = "normalized_text"
NEAR_KEY_COLUMN = "near_duplicate_key"  # the normalised text; null for exact repeats, counted once already
STORED_DUPLICATE_COLUMN = "duplicate_of_stored_row"
STORED_CONFLICT_COLUMN = "label_conflicts_with_stored_row"
HELD_OUT_COLUMN = "in_held_out_set_as_row"
QUARANTINED_COLUMN = "quarantined"

MAX_EXAMPLE_IDS = 5  # example ids a check's outcome names


class Facts(SimpleNamespace):
    """What a check's expectations and wording read about the batch being validated, by attribute.

    ``validation.frame.facts`` builds one per check: the column names ``id``, ``text``, ``label`` and
    ``confidence`` (None when the batch has no usable confidence column), ``labels``, ``required_columns``,
    ``has_ids``, ``present(column)``, ``row_count``, ``skipped`` (check -> why it does not run), the stored rows'
    ``stored_label_counts`` (None before the first champion), the text lengths' ``median_length`` and its
    ``length_basis``, and the thresholds the check declares, by their setting names. The suites add
    ``proceeding`` (the GX row condition of the rows that proceed), the outcomes ``quarantined`` (rows
    quarantined) and the look-ups reasons use: ``first_id(column, value)``, ``labels_by_key(key)``,
    ``stored_labels`` (stored row id -> label).
    """


@dataclass(frozen=True)
class Row:
    """A failing row as its reason sees it: its text, label and confidence, and the row GX reported
    (``found``: its id and position, and the values of the columns the expectation checked)."""

    text: Any = None
    label: Any = None
    confidence: Any = None
    found: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Expect:
    """One GX expectation a check builds: its class, what it checks (a Data Docs page shows it) and its arguments.

    ``type`` is a class of ``great_expectations.expectations`` or of ``validation.expectations`` (ours).
    """

    type: str
    about: str
    kwargs: Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    """What a structure or batch check's GX results say: the detail line, failing rows and example ids."""

    detail: str
    failed_rows: int = 0
    example_ids: tuple = ()


@dataclass(frozen=True)
class DataCheck:
    """One data check: its name, kind, columns, severity, thresholds, the GX expectations it builds and its wording.

    The GX suites are built from these entries (``validation.suites``) and their results read back through
    them (``validation.outcomes``); ``validation.checks.CHECKS`` holds one entry per check, in report order.

    Args:
        name: the check's name in reports, severity overrides and quarantine entries.
        kind: ``STRUCTURE``, ``ROW``, ``BATCH`` or ``BOUND``.
        severity: what it does by default: row checks ``QUARANTINE``, the others ``FAIL``.
        expect: the GX expectations it builds on a batch, from the batch's ``Facts`` (none: nothing to check
            on this batch).
        columns: the column roles (``TEXT``, ``LABEL``, ``CONFIDENCE``, ``ID``) a row or batch check reads; the
            check is skipped when one is missing or mistyped (the structure checks report that).
        thresholds: the settings it reads (fields of ``data.settings.Settings`` and of ``BatchExpectations``);
            its ``Facts`` hold these and no others.
        finds: a row check's "N of M rows have ..." ending, e.g. "a null text".
        reason: a row check's reason for quarantining one row.
        detail: a structure, batch or bound check's outcome, from its GX results.
        hard: a row check whose failing rows cannot be trained on at all: never released, never warn or off.
        needs_stored: skipped before the first champion, when there are no stored rows to compare with.

    Example:

    >>> shouting = DataCheck(
    ...     name="shouting", kind=ROW, severity=QUARANTINE, columns=(TEXT,),
    ...     expect=lambda b: [Expect("ExpectColumnValuesToNotMatchRegex", f"{b.text} is not all capitals",
    ...                              {"column": b.text, "regex": "^[^a-z]+$"})],
    ...     finds=lambda b: f"an all-capitals {b.text}",
    ...     reason=lambda b, row: f"text {row.text!r} is all capitals",
    ... )
    >>> facts = Facts(text="review")  # what validation.frame.facts gives it on a batch whose text column is "review"
    >>> [(e.type, e.about) for e in shouting.expect(facts)]
    [('ExpectColumnValuesToNotMatchRegex', 'review is not all capitals')]
    >>> shouting.reason(facts, Row(text="AWFUL"))
    "text 'AWFUL' is all capitals"
    >>> shouting.allowed_severities
    ('quarantine', 'warn', 'fail', 'off')
    >>> DataCheck(name="shouting", kind=ROW, severity=QUARANTINE, expect=shouting.expect)
    Traceback (most recent call last):
    ...
    ValueError: row check shouting needs finds and reason

    Appending it to ``validation.checks.CHECKS`` (and testing it) is all a new check takes.
    """

    name: str
    kind: str
    severity: str
    expect: Callable[[Facts], list[Expect]]
    columns: tuple[str, ...] = ()
    thresholds: tuple[str, ...] = ()
    finds: Callable[[Facts], str] | None = None
    reason: Callable[[Facts, Row], str] | None = None
    detail: Callable[[Facts, list[Any]], Finding] | None = None
    hard: bool = False
    needs_stored: bool = False

    def __post_init__(self) -> None:
        if self.kind not in (STRUCTURE, ROW, BATCH, BOUND):
            raise ValueError(f"check {self.name} has no kind {self.kind!r}")
        if self.kind == ROW and (self.finds is None or self.reason is None):
            raise ValueError(f"row check {self.name} needs finds and reason")
        if self.kind != ROW and self.detail is None:
            raise ValueError(f"{self.kind} check {self.name} needs detail")
        if self.severity not in (self.allowed_severities or (FAIL,)):
            raise ValueError(f"check {self.name} cannot default to severity {self.severity!r}")

    @property
    def allowed_severities(self) -> tuple[str, ...]:
        """The severities a deployment may set (none: structure checks and the bound always refuse)."""
        if self.kind == ROW:
            return (QUARANTINE, FAIL) if self.hard else (QUARANTINE, WARN, FAIL, OFF)
        return (FAIL, WARN, OFF) if self.kind == BATCH else ()


def plain(value: Any) -> Any:
    """numpy scalars -> plain Python values, so reports compare and serialise cleanly."""
    return value.item() if hasattr(value, "item") else value


def rows(count: int) -> str:
    """'1 row', '3 rows'."""
    return f"{count} row" if count == 1 else f"{count} rows"
