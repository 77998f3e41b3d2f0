"""Bringing labeled rows in: a CSV like the tutorial's (a text column and a label column).

Every row is either imported or rejected with a reason that names its row (and the file's line,
where a text spanning lines moves it), so nothing
disappears silently: blank texts, labels outside the label set, texts over the length
bound, texts a database cannot store (NUL characters, invalid UTF-8 bytes), confidences that
are not numbers in [0, 1], and texts already stored (or repeated within the file) with the same
label are rejected. A text already stored, or repeated in the file, with *another* label is
imported: the next run's data checks quarantine every copy as conflicting, for a person to judge.

>>> import pandas as pd
>>> from data.settings import Settings
>>> from data.store import connect, create_schema
>>> s = Settings(database_url="sqlite://", table="doc_import"); e = connect(s); create_schema(e, s)
>>> rows = pd.DataFrame({"text": ["good", "bad", ""], "label": ["positive", "negative", "positive"]})
>>> report = import_frame(e, s, rows)
>>> report.imported, [(r.where, r.reason) for r in report.rejected]
(2, [('row 3', 'blank text')])

The first import into a database fixes its label set (see ``data.labels``): RETRAIN_LABELS when
set, else the labels the rows carry, sorted.

>>> report.label_set, report.fixed_label_set
(['negative', 'positive'], True)
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from data.labels import fix_labels, fixed_labels, labels_given, with_fixed_labels
from data.progress import tracked
from data.settings import Settings
from data.store import NewExample, existing_labels, insert_examples

FIRST_DATA_LINE = 2  # line 1 of a CSV is its header
# Lone surrogates cannot be encoded by any database driver (or pandas' CSV parser), so one such
# text would fail a whole import; bytes that are not valid UTF-8 are decoded to private-use marks
# instead (U+10FF00 + the byte), which survive parsing and name the row to reject.
_SURROGATES = re.compile("[\ud800-\udfff]")
_INVALID_BYTE_BASE = 0x10FF00
_INVALID_BYTES = re.compile("[\U0010ff80-\U0010ffff]")
_UNSTORABLE = re.compile("[\ud800-\udfff\U0010ff80-\U0010ffff]")


def _mark_invalid_bytes(error: UnicodeDecodeError) -> tuple[str, int]:
    bad = error.object[error.start:error.end]
    return "".join(chr(_INVALID_BYTE_BASE + byte) for byte in bad), error.end


codecs.register_error("retrain-mark-invalid-bytes", _mark_invalid_bytes)


class BadInputFile(KeyError, ValueError):
    """A file (or frame) that cannot be imported at all: empty, not a CSV, undecodable, missing a column.

    A KeyError for callers that caught the missing-column error before; a ValueError for the CLI.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Rejection:
    """A row that was not imported, and why: ``row`` counts data rows from 1, ``line`` is the file's line."""

    line: int
    reason: str
    text: str = ""
    row: int = 0

    @property
    def where(self) -> str:
        """'row 7', or 'row 7 (line 20734)' where texts spanning lines put the row further down the file."""
        moved = self.line != self.row + FIRST_DATA_LINE - 1
        return f"row {self.row} (line {self.line})" if moved else f"row {self.row}"


@dataclass(frozen=True)
class ImportReport:
    """How an import went."""

    imported: int
    rejected: list[Rejection] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    encoding: str = "utf-8"
    # Imported rows whose text another row carries with another label (quarantined by the next run).
    conflicting: list[Rejection] = field(default_factory=list)
    label_set: list[str] = field(default_factory=list)
    fixed_label_set: bool = False  # this import fixed the database's label set

    def reasons(self) -> Counter[str]:
        """Rejections counted by reason (label values and duplicate ids folded together)."""
        return Counter(r.reason.split(":")[0] for r in self.rejected)

    def summary(self) -> str:
        lines = [f"imported {self.imported} rows, rejected {len(self.rejected)}"]
        if self.fixed_label_set:
            lines.append(f"  label set fixed in this database: {self.label_set} (every later command, "
                         "`retrain serve` and each worker read it from there)")
        lines += [f"  {count} x {reason}" for reason, count in self.reasons().most_common()]
        if self.conflicting:
            lines.append(f"  {len(self.conflicting)} imported rows carry a text another row has with another "
                         "label: the next run's data checks quarantine them (`retrain quarantine list`)")
        return "\n".join(lines)


def read_csv(path: str | Path, encoding: str = "auto") -> tuple[pd.DataFrame, str]:
    """Read a CSV as strings; returns the frame and the encoding used.

    ``auto``: UTF-8; a file with a few invalid bytes among valid UTF-8 stays UTF-8 and only its rows
    with bad bytes are rejected (by ``import_frame``); a file with no valid multi-byte UTF-8 at all is
    read as latin-1 (reading a UTF-8 file as latin-1 would garble every accented character in it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such CSV file: {path}")
    raw = path.read_bytes()
    if not raw.strip():
        raise BadInputFile(f"{path} is empty: a CSV needs a header line naming its columns")
    text, used = _decode(raw, path, encoding)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise BadInputFile(f"{path} is not a readable CSV: {error}") from error
    lines = _record_lines(text)
    if lines is not None and len(lines) == len(frame):
        frame.attrs[_LINES] = lines  # what import_frame names rejections by
    return frame, used


_LINES = "csv_lines"


def _record_lines(text: str) -> list[int] | None:
    """The physical line each data record starts on: blank lines (which the parser skips) and texts
    spanning several lines move later records down. None when the csv module cannot parse the text."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))  # a long text is a row to judge, not an error
    reader = csv.reader(io.StringIO(text, newline=""))
    starts: list[int] = []
    end = 0
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            if start == end and len(record) <= 1 and not "".join(record).strip():
                continue  # an empty or whitespace-only line
            starts.append(start)
    except csv.Error:
        return None
    return starts[1:]  # the first record is the header


def _decode(raw: bytes, path: Path, encoding: str) -> tuple[str, str]:
    if encoding != "auto":
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as error:
            raise BadInputFile(f"{path} is not valid {encoding}: byte {raw[error.start]:#04x} at offset "
                               f"{error.start}; try --encoding auto") from error
        except LookupError as error:
            raise BadInputFile(f"unknown encoding {encoding!r}") from error
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="retrain-mark-invalid-bytes")
    invalid = len(_INVALID_BYTES.findall(text))
    valid_multibyte = sum(1 for char in text if ord(char) > 127) - invalid
    if valid_multibyte >= invalid:
        return text, f"utf-8 with {invalid} invalid bytes"
    return raw.decode("latin-1"), "latin-1"


def import_frame(
    engine: sa.Engine,
    settings: Settings,
    frame: pd.DataFrame,
    text_column: str = "text",
    label_column: str = "label",
    label_map: dict[str, str] | None = None,
    confidence_column: str | None = None,
    source: str | None = None,
    labeled_at: datetime | None = None,
) -> ImportReport:
    """Validate and insert rows of a frame; rows count from 1, lines as in a CSV with a header.

    Reads the label set fixed in the database; when none is fixed yet, fixes RETRAIN_LABELS (if set) or
    the labels the rows carry (sorted) first.
    """
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise BadInputFile(
            f"column(s) {missing} not found; the file has {list(frame.columns)}"
            " (choose them with --text-column / --label-column)"
        )
    if confidence_column and confidence_column not in frame.columns:
        raise BadInputFile(f"confidence column {confidence_column!r} not found; the file has {list(frame.columns)}")
    label_map = label_map or {}
    raw_labels = [str(raw).strip() for raw in frame[label_column]]
    mapped = [label_map.get(raw, raw) for raw in raw_labels]
    settings, fixed_now = _with_label_set(engine, settings, mapped)
    known = set(settings.labels)
    texts = [str(t) if t is not None and not pd.isna(t) else "" for t in frame[text_column]]
    storable = [t for t in texts if t.strip() and "\x00" not in t and not _UNSTORABLE.search(t)]
    stored = existing_labels(engine, settings, storable)
    seen: dict[str, dict[str, int]] = {}  # text -> label -> row
    rejected: list[Rejection] = []
    conflicting: list[Rejection] = []
    accepted: list[NewExample] = []
    confidences = frame[confidence_column] if confidence_column else None
    lines = frame.attrs.get(_LINES)  # set by read_csv; else one row per line after the header
    if lines is None or len(lines) != len(frame):
        lines = range(FIRST_DATA_LINE, FIRST_DATA_LINE + len(frame))
    rows = enumerate(zip(texts, frame[label_column], mapped, strict=True))
    for offset, (text, raw_label, label) in tracked(rows, len(frame), f"checking {len(frame)} rows"):
        line, row = lines[offset], offset + 1
        confidence, confidence_problem = _confidence(None if confidences is None else confidences.iloc[offset])
        reason = None
        if not text.strip():
            reason = "blank text"
        elif "\x00" in text:
            reason = "text contains a NUL character, which the database cannot store"
        elif _INVALID_BYTES.search(text):
            reason = ("text holds bytes that are not valid UTF-8 (fix the file, or import it with --encoding "
                      "latin-1 if it is not UTF-8)")
        elif _SURROGATES.search(text):
            reason = "text is not valid Unicode (a lone surrogate), which the database cannot store"
        elif label not in known:
            reason = f"label not in the label set {sorted(known)}: {raw_label!r}"
        elif len(text) > settings.max_text_chars:
            reason = f"text longer than max_text_chars={settings.max_text_chars}: {len(text)} chars"
        elif confidence_problem:
            reason = confidence_problem
        elif label in stored.get(text, {}):
            reason = f"duplicate text of stored row id {stored[text][label]}"
        elif label in seen.get(text, {}):
            reason = f"duplicate text of row {seen[text][label]}"
        if reason:
            rejected.append(Rejection(line, reason, _preview(text), row))
            continue
        others = [f"stored row id {i} ({other!r})" for other, i in stored.get(text, {}).items()]
        others += [f"row {n} ({other!r})" for other, n in seen.get(text, {}).items()]
        if others:
            conflicting.append(Rejection(line, f"same text as {', '.join(others)} with label {label!r}",
                                         _preview(text), row))
        seen.setdefault(text, {})[label] = row
        accepted.append(NewExample(text=text, label=label, labeled_at=labeled_at, source=source,
                                   confidence=confidence))
    ids = insert_examples(engine, settings, accepted)
    return ImportReport(imported=len(ids), rejected=rejected, ids=ids, conflicting=conflicting,
                        label_set=list(settings.labels), fixed_label_set=fixed_now)


def _with_label_set(engine: sa.Engine, settings: Settings, labels: list[str]) -> tuple[Settings, bool]:
    """The settings with the database's label set, fixing it first when none is (and whether this did)."""
    settings = with_fixed_labels(settings, engine)
    if fixed_labels(engine) is not None:
        return settings, False
    chosen = settings.labels if labels_given(settings) else sorted({label for label in labels if label})
    if len(chosen) < 2:
        raise BadInputFile(
            f"the rows carry the labels {chosen}, but a label set needs at least two; fix it first with "
            "`retrain init --labels a,b,...` (or RETRAIN_LABELS)")
    return fix_labels(engine, settings, chosen), True


def _confidence(raw: object) -> tuple[float | None, str | None]:
    """A confidence value and, when it is not a number in [0, 1], why the row is rejected."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == "":
        return None, None
    try:
        value = float(str(raw).strip())
    except ValueError:
        return None, f"confidence is not a number: {raw!r}"
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        return None, f"confidence outside [0, 1]: {raw!r}"
    return value, None


def _preview(text: str) -> str:
    """The start of a text for a report line (print it with repr: it may hold control characters)."""
    return _UNSTORABLE.sub("\ufffd", text[:80])


def import_csv(
    engine: sa.Engine, settings: Settings, path: str | Path, encoding: str = "auto", **options
) -> ImportReport:
    """Import a CSV file; see ``import_frame`` for the options."""
    frame, used = read_csv(path, encoding)
    report = import_frame(engine, settings, frame, source=options.pop("source", None) or Path(path).name,
                          **options)
    return replace(report, encoding=used)
