"""Bringing labeled rows in: a CSV like the tutorial's (a text column and a label column).

Every row is either imported or rejected with a reason that names its line, so nothing
disappears silently: blank texts, labels outside the label set, texts over the length
bound, and texts already stored (or repeated within the file) are rejected.

>>> import pandas as pd
>>> from retrain.settings import Settings
>>> from retrain.store import connect, create_schema
>>> s = Settings(database_url="sqlite://", table="doc_import"); e = connect(s); create_schema(e, s)
>>> rows = pd.DataFrame({"text": ["good", "bad", ""], "label": ["positive", "negative", "positive"]})
>>> report = import_frame(e, s, rows)
>>> report.imported, [r.reason for r in report.rejected]
(2, ['blank text'])
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from retrain.settings import Settings
from retrain.store import NewExample, existing_texts, insert_examples

FIRST_DATA_LINE = 2  # line 1 of a CSV is its header


@dataclass(frozen=True)
class Rejection:
    """A row that was not imported, and why."""

    line: int
    reason: str
    text: str = ""


@dataclass(frozen=True)
class ImportReport:
    """How an import went."""

    imported: int
    rejected: list[Rejection] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    encoding: str = "utf-8"

    def reasons(self) -> Counter[str]:
        """Rejections counted by reason (label values and duplicate ids folded together)."""
        return Counter(r.reason.split(":")[0] for r in self.rejected)

    def summary(self) -> str:
        lines = [f"imported {self.imported} rows, rejected {len(self.rejected)}"]
        lines += [f"  {count} x {reason}" for reason, count in self.reasons().most_common()]
        return "\n".join(lines)


def read_csv(path: str | Path, encoding: str = "auto") -> tuple[pd.DataFrame, str]:
    """Read a CSV as strings; ``auto`` tries UTF-8 and falls back to latin-1."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such CSV file: {path}")
    candidates = ["utf-8", "latin-1"] if encoding == "auto" else [encoding]
    for candidate in candidates:
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=candidate), candidate
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError(candidates[-1], b"", 0, 1, f"{path} is not valid {encoding}")


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
    """Validate and insert rows of a frame; line numbers count as in a CSV with a header."""
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise KeyError(
            f"column(s) {missing} not found; the file has {list(frame.columns)}"
            " (choose them with --text-column / --label-column)"
        )
    label_map = label_map or {}
    known = set(settings.labels)
    texts = [str(t) if t is not None and not pd.isna(t) else "" for t in frame[text_column]]
    stored = existing_texts(engine, settings, [t for t in texts if t.strip()])
    seen: dict[str, int] = {}
    rejected: list[Rejection] = []
    accepted: list[NewExample] = []
    confidences = frame[confidence_column] if confidence_column in frame.columns else None
    for offset, (text, raw_label) in enumerate(zip(texts, frame[label_column], strict=True)):
        line = offset + FIRST_DATA_LINE
        label = label_map.get(str(raw_label).strip(), str(raw_label).strip())
        reason = None
        if not text.strip():
            reason = "blank text"
        elif label not in known:
            reason = f"label not in the label set {sorted(known)}: {raw_label!r}"
        elif len(text) > settings.max_text_chars:
            reason = f"text longer than max_text_chars={settings.max_text_chars}: {len(text)} chars"
        elif text in stored:
            reason = f"duplicate text of stored row id {stored[text]}"
        elif text in seen:
            reason = f"duplicate text of line {seen[text]}"
        if reason:
            rejected.append(Rejection(line, reason, text[:80]))
            continue
        seen[text] = line
        confidence = None
        if confidences is not None:
            value = pd.to_numeric(confidences.iloc[offset], errors="coerce")
            confidence = None if pd.isna(value) else float(value)
        accepted.append(NewExample(text=text, label=label, labeled_at=labeled_at, source=source,
                                   confidence=confidence))
    ids = insert_examples(engine, settings, accepted)
    return ImportReport(imported=len(ids), rejected=rejected, ids=ids)


def import_csv(
    engine: sa.Engine, settings: Settings, path: str | Path, encoding: str = "auto", **options
) -> ImportReport:
    """Import a CSV file; see ``import_frame`` for the options."""
    frame, used = read_csv(path, encoding)
    report = import_frame(engine, settings, frame, source=options.pop("source", None) or Path(path).name,
                          **options)
    return ImportReport(report.imported, report.rejected, report.ids, encoding=used)
