"""Scoring a file with a loaded model: ``retrain predict --file in.csv --out out.csv [--json]``.

The file is read in chunks and written as it is scored, so its size is bounded by the disk, not by
memory. Each output row is the input row plus ``predicted_label`` and one ``probability_<label>``
column per class (CSV), or ``predicted_label`` and a ``probabilities`` object (JSON Lines).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pandas as pd

from data.progress import progress_bar

if TYPE_CHECKING:
    import numpy as np

    from retrain.api import LoadedModel

CHUNK_ROWS = 4096  # rows read and scored at a time (batched by length inside; see models.encoding)


@dataclass(frozen=True)
class ScoringReport:
    """How a scoring run went."""

    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def count_records(path: Path) -> int:
    """Data records of a CSV (texts may span lines), for the progress bar."""
    csv.field_size_limit(2**31 - 1)
    with path.open(newline="", encoding="utf-8", errors="replace") as file:
        return max(sum(1 for _ in csv.reader(file)) - 1, 0)


def probability_columns(labels: tuple[str, ...]) -> list[str]:
    return [f"probability_{label}" for label in labels]


def _write_chunk(chunk: pd.DataFrame, probabilities: np.ndarray, model: LoadedModel, out: TextIO,
                 json_lines: bool, header: bool) -> None:
    best = [model.labels[i] for i in probabilities.argmax(axis=1)]
    if json_lines:
        for record, label, row in zip(chunk.to_dict("records"), best, probabilities.tolist(), strict=True):
            record.update(predicted_label=label,
                          probabilities={name: round(p, 6) for name, p in zip(model.labels, row, strict=True)})
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    scored = chunk.assign(predicted_label=best)
    scored[probability_columns(model.labels)] = probabilities.round(6)
    scored.to_csv(out, header=header, index=False, lineterminator="\n")


def score_csv(model: LoadedModel, source: Path, out: TextIO, text_column: str = "text",
              json_lines: bool = False, chunk_rows: int = CHUNK_ROWS) -> ScoringReport:
    """Score every row of the CSV ``source`` and write the results to ``out`` as they are ready."""
    if not source.is_file():
        raise FileNotFoundError(f"no such CSV file: {source}")
    started = time.perf_counter()
    rows = 0
    chunks = pd.read_csv(source, dtype=str, keep_default_na=False, chunksize=chunk_rows)
    with progress_bar(f"scoring {source.name} with v{model.version}", count_records(source)) as advance:
        for chunk in chunks:
            if text_column not in chunk.columns:
                raise KeyError(f"column {text_column!r} not found; the file has {list(chunk.columns)} "
                               "(choose it with --text-column)")
            probabilities = model.predict_proba(chunk[text_column].tolist())
            _write_chunk(chunk, probabilities, model, out, json_lines, header=rows == 0)
            rows += len(chunk)
            advance(len(chunk))
    return ScoringReport(rows=rows, seconds=time.perf_counter() - started)


def score_texts(model: LoadedModel, texts: list[str], out: TextIO, json_lines: bool = False) -> None:
    """Score texts given on the command line: 'label<TAB>probability<TAB>text' lines, or JSON Lines."""
    probabilities = model.predict_proba(texts)
    if json_lines:
        _write_chunk(pd.DataFrame({"text": texts}), probabilities, model, out, json_lines=True, header=False)
        return
    for text, row in zip(texts, probabilities, strict=True):
        best = int(row.argmax())
        out.write(f"{model.labels[best]}\t{row[best]:.3f}\t{text}\n")


def open_output(path: Path | None) -> TextIO:
    """The file to write to, or stdout."""
    return sys.stdout if path is None else path.open("w", newline="", encoding="utf-8")
