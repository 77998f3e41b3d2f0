"""What a batch is checked against: the expectations a deployment sets (``BatchExpectations``: the label set,
the columns, every check's threshold and severity) and the stored rows it is compared with (``ReferenceData``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from data.normalise import normalize_text
from validation.checks import ALLOWED_SEVERITIES, DEFAULT_SEVERITIES
from validation.data_check import FAIL

if TYPE_CHECKING:
    import pandas as pd

    from data.reference import ConsumedSummary


@dataclass(frozen=True)
class BatchExpectations:
    """What a batch of newly labeled rows must satisfy before it may be trained on."""

    labels: tuple[str, ...]
    min_new_rows: int = 1
    min_text_chars: int = 1
    max_text_chars: int = 100_000  # Settings.max_text_chars
    id_column: str = "id"
    text_column: str = "text"
    label_column: str = "label"
    confidence_column: str | None = "confidence"  # checked only when the batch has it
    min_confidence: float = 0.35
    max_garbage_share: float = 0.2
    max_control_share: float = 0.0
    length_outlier_factor: float = 10.0
    max_label_kl: float = 0.1
    min_class_share: float = 0.0
    max_class_share: float = 0.9
    max_quarantine_share: float = 0.05
    # Per-check severity overrides, e.g. {"label_drift": "warn"}; stored as sorted pairs.
    severities: Mapping[str, str] | tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Accept any iterable of labels and any mapping of severities but store tuples:
        # the object must stay hashable and picklable.
        object.__setattr__(self, "labels", tuple(self.labels))
        pairs = self.severities.items() if isinstance(self.severities, Mapping) else self.severities
        object.__setattr__(self, "severities", tuple(sorted((str(k), str(v)) for k, v in pairs)))
        if not self.labels:
            raise ValueError("labels must not be empty")
        if self.min_new_rows < 0:
            raise ValueError(f"min_new_rows must be >= 0, got {self.min_new_rows}")
        if not 0 <= self.min_text_chars <= self.max_text_chars:
            raise ValueError(
                "need 0 <= min_text_chars <= max_text_chars, got "
                f"{self.min_text_chars} and {self.max_text_chars}"
            )
        columns = (self.id_column, self.text_column, self.label_column)
        if len(set(columns)) != len(columns) or self.confidence_column in columns:
            raise ValueError(f"id, text, label and confidence columns must differ, got "
                             f"{(*columns, self.confidence_column)}")
        for name in ("min_confidence", "max_garbage_share", "max_control_share", "min_class_share",
                     "max_class_share", "max_quarantine_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        if self.min_class_share > self.max_class_share:
            raise ValueError(f"min_class_share {self.min_class_share} exceeds max_class_share {self.max_class_share}")
        if self.length_outlier_factor <= 0 or self.max_label_kl < 0:
            raise ValueError("length_outlier_factor must be > 0 and max_label_kl >= 0")
        for name, severity in self.severities:
            if name not in ALLOWED_SEVERITIES:
                raise ValueError(f"no data check named {name!r} to set a severity for; "
                                 f"checks: {', '.join(ALLOWED_SEVERITIES)}")
            if severity not in ALLOWED_SEVERITIES[name]:
                raise ValueError(f"severity of {name} must be one of {ALLOWED_SEVERITIES[name]}, got {severity!r}")

    @property
    def required_columns(self) -> tuple[str, str, str]:
        """The columns every batch must have, in report order."""
        return (self.id_column, self.text_column, self.label_column)

    def severity(self, check: str) -> str:
        """The severity of a check: its override, else its default (structure checks always fail)."""
        return dict(self.severities).get(check, DEFAULT_SEVERITIES.get(check, FAIL))


@dataclass(frozen=True, eq=False)
class ReferenceData:
    """Rows already stored that a batch is compared with: the champion's data up to its watermark.

    ``rows`` has columns id, text, label and split ('train' or 'test'); quarantined rows and the
    batch's own rows are left out by whoever builds it. They are every stored row, or (as
    ``validation.gate`` builds it) only those sharing a normalised text with the batch, with
    ``summary`` giving the label counts and median length of all of them.
    """

    rows: pd.DataFrame
    summary: ConsumedSummary | None = None  # None: ``rows`` are all the stored rows, summarised here

    def __post_init__(self) -> None:
        missing = {"id", "text", "label", "split"} - set(self.rows.columns)
        if missing:
            raise ValueError(f"reference rows lack column(s) {sorted(missing)}")

    @cached_property
    def keyed(self) -> pd.DataFrame:
        """One row per (normalised text, label, split), with the first stored id: what a batch row can match."""
        rows = self.rows[self.rows["text"].notna()]
        keyed = rows[["id", "label", "split"]].assign(key=rows["text"].astype(str).map(normalize_text))
        return keyed.drop_duplicates(["key", "label", "split"]).reset_index(drop=True)

    @cached_property
    def label_counts(self) -> dict[str, int]:
        """How many stored rows carry each label."""
        if self.summary is not None:
            return dict(self.summary.label_counts)
        return {str(k): int(v) for k, v in self.rows["label"].value_counts().items()}

    @cached_property
    def median_length(self) -> float | None:
        """Median text length in characters (None without rows)."""
        if self.summary is not None:
            return self.summary.median_length
        lengths = self.rows["text"].dropna().astype(str).str.len()
        return float(lengths.median()) if len(lengths) else None
