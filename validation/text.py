"""Text features the data checks look at: a normalised form for near-duplicates, and garbage characters.

Pure Python (``re`` and ``unicodedata``); pandas only inside the functions that take a Series.

>>> normalize_text("  Great FILM!!  http://t.co/x1 ")
'great film'
>>> normalize_text("ＧＲＥＡＴ film") == normalize_text("great film")  # NFKC: full-width letters
True
>>> normalize_text("!!!")  # nothing but punctuation: compared as written, case and spacing aside
'!!!'
>>> round(garbage_share("donâ€™t"), 2)  # UTF-8 read as cp1252: 3 of 7 characters
0.43
>>> garbage_share("café crème")  # single accented letters are ordinary text
0.0
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# Runs of two or more of these are what UTF-8 looks like when decoded as latin-1, cp1252 or Mac
# Roman ("Ã©", "â€™", "äó»"): Latin-1 supplement letters and symbols plus cp1252's extra glyphs.
# A single one between ASCII letters is ordinary text ("café"), so only runs count.
_MOJIBAKE_ALPHABET = (
    "\u00a0-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
)
# Replacement characters (bytes a decoder gave up on), C1 controls (cp1252 bytes read as latin-1)
# and mojibake runs. Every match is non-ASCII, so ASCII texts are skipped without a regex.
GARBAGE_PATTERN = "\ufffd|[\u0080-\u009f]|[" + _MOJIBAKE_ALPHABET + "]{2,}"
# C0 controls except tab, line feed and carriage return, and DEL.
CONTROL_PATTERN = "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]"

_GARBAGE = re.compile(GARBAGE_PATTERN)
_URL = re.compile(r"https?://\S+|www\.\S+")
_NON_WORD = re.compile(r"[\W_]+")
# ASCII fast path of _NON_WORD: every ASCII character that is not a letter or digit becomes a space.
_ASCII_SEPARATORS = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})


def normalize_text(text: str) -> str:
    """The form two texts share when they say the same thing: NFKC, casefolded, URLs dropped,
    punctuation and spacing collapsed. Texts that are nothing but punctuation or symbols keep them."""
    if text.isascii():  # most texts: str.translate is ~5x faster than the Unicode regex
        folded = text.lower()
        stripped = _URL.sub(" ", folded) if "http" in folded or "www." in folded else folded
        words = stripped.translate(_ASCII_SEPARATORS).split()
    else:
        folded = unicodedata.normalize("NFKC", text).casefold()
        words = _NON_WORD.sub(" ", _URL.sub(" ", folded)).split()
    if words:
        return " ".join(words)
    # "!!!" and ":(" must not all collapse to one empty key and count as duplicates of each other.
    return " ".join(folded.split())


def garbage_share(text: str) -> float:
    """Share of a text's characters that are encoding garbage (see ``GARBAGE_PATTERN``)."""
    if not text or text.isascii():
        return 0.0
    return (len(text) - len(_GARBAGE.sub("", text))) / len(text)


def pattern_share(text: str, pattern: str) -> float:
    """Share of a text's characters matched by ``pattern``."""
    if not text:
        return 0.0
    return (len(text) - len(re.sub(pattern, "", text))) / len(text)


def garbage_shares(texts: pd.Series) -> pd.Series:
    """``garbage_share`` of every text in a Series of strings (float Series, same index)."""
    return pattern_shares(texts, GARBAGE_PATTERN)


def pattern_shares(texts: pd.Series, pattern: str) -> pd.Series:
    """``pattern_share`` of every text in a Series of strings (float Series, same index).

    One regex scan over all texts joined by newlines, so the cost is one pass in C rather than a
    Python call per text; ``pattern`` must not match a newline (neither module pattern does).
    """
    import numpy as np
    import pandas as pd

    values = [text if isinstance(text, str) else str(text) for text in texts.tolist()]
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    starts = np.cumsum(lengths + 1) - (lengths + 1)  # where each text begins in the joined string
    spans = np.array([found.span() for found in re.finditer(pattern, "\n".join(values))], dtype=np.int64)
    matched = np.zeros(len(values), dtype=np.int64)
    if len(spans):
        rows = np.searchsorted(starts, spans[:, 0], side="right") - 1
        np.add.at(matched, rows, spans[:, 1] - spans[:, 0])
    shares = np.divide(matched, lengths, out=np.zeros(len(values)), where=lengths > 0)
    return pd.Series(shares, index=texts.index, dtype="float64")


def first_match(text: str, pattern: str) -> str | None:
    """The first run ``pattern`` matches in a text, escaped for a message (``\\x00``)."""
    found = re.search(pattern, text)
    return None if found is None else found.group(0).encode("unicode_escape").decode("ascii")
