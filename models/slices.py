"""Held-out accuracy per slice: per ``source`` and per week of arrival.

One aggregate accuracy can rise while a source that stopped arriving erodes: the new rows
outweigh it. Scoring each slice separately shows that, and ``slice_drops`` lets the gate refuse
a challenger that loses more than a bound on any slice big enough to measure.

>>> import pandas as pd
>>> frame = pd.DataFrame({"label": ["a", "a", "b", "b"], "source": ["x", "x", "y", "y"],
...                       "labeled_at": pd.to_datetime(["2026-01-05"] * 2 + ["2026-01-12"] * 2)})
>>> scores = slice_scores(frame, ["a", "b", "b", "b"])
>>> scores["source"]["x"], scores["week"]["2026-W03"]
(SliceScore(rows=2, accuracy=0.5), SliceScore(rows=2, accuracy=1.0))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SLICE_KINDS = ("source", "week")
Slices = dict[str, dict[str, "SliceScore"]]  # kind ("source", "week") -> slice name -> score


@dataclass(frozen=True)
class SliceScore:
    rows: int
    accuracy: float


def week_of(moment: pd.Timestamp) -> str:
    """The ISO week a row arrived in, e.g. '2026-W02'."""
    year, week, _ = pd.Timestamp(moment).isocalendar()
    return f"{year}-W{week:02d}"


def slice_scores(frame: pd.DataFrame, predictions: Sequence[str]) -> Slices:
    """Accuracy per source (when the frame has one) and per week of ``labeled_at``."""
    if len(frame) != len(predictions):
        raise ValueError(f"{len(frame)} rows but {len(predictions)} predictions")
    right = pd.Series(np.asarray(predictions) == frame["label"].to_numpy(), index=frame.index)
    keys: dict[str, pd.Series] = {}
    if "source" in frame.columns:
        keys["source"] = frame["source"].fillna("(no source)").astype(str)
    if "labeled_at" in frame.columns and len(frame):
        keys["week"] = frame["labeled_at"].map(week_of)
    return {kind: {str(name): SliceScore(int(group.size), float(group.mean()))
                   for name, group in right.groupby(key, sort=True)}
            for kind, key in keys.items()}


def slices_from_dict(data: dict) -> Slices:
    """Slices back from their JSON form (as the registry stores them)."""
    return {kind: {name: SliceScore(**score) for name, score in table.items()} for kind, table in data.items()}


def slices_to_dict(slices: Slices) -> dict:
    return {kind: {name: {"rows": s.rows, "accuracy": s.accuracy} for name, s in table.items()}
            for kind, table in slices.items()}


def slice_drops(challenger: Slices, champion: Slices, bound: float, min_rows: int = 50) -> list[str]:
    """Each slice with at least ``min_rows`` rows on which the challenger loses more than ``bound``.

    >>> champion = {"source": {"x": SliceScore(60, 0.9), "y": SliceScore(10, 0.9)}}
    >>> challenger = {"source": {"x": SliceScore(60, 0.8), "y": SliceScore(10, 0.1)}}
    >>> slice_drops(challenger, champion, 0.05)
    ['source x accuracy drops 0.100 (0.900 -> 0.800, 60 rows) > 0.05']
    """
    return [
        f"{kind} {name} accuracy drops {before.accuracy - after.accuracy:.3f} "
        f"({before.accuracy:.3f} -> {after.accuracy:.3f}, {after.rows} rows) > {bound:g}"
        for kind, table in challenger.items()
        for name, after in table.items()
        if (before := champion.get(kind, {}).get(name)) is not None
        and after.rows >= min_rows and before.accuracy - after.accuracy > bound
    ]


def format_slices(slices_by_model: dict[str, Slices], min_rows: int = 1) -> list[str]:
    """One line per slice: its rows and each model's accuracy, e.g. for a terminal or markdown table."""
    models = list(slices_by_model)
    first = next(iter(slices_by_model.values()), {})
    lines = []
    for kind in SLICE_KINDS:
        for name, score in first.get(kind, {}).items():
            if score.rows < min_rows:
                continue
            accuracies = [slices_by_model[m].get(kind, {}).get(name) for m in models]
            cells = " | ".join("-" if a is None else f"{a.accuracy:.4f}" for a in accuracies)
            lines.append(f"| {kind} {name} | {score.rows} | {cells} |")
    return lines
