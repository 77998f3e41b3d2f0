"""Text features the data checks look at: garbage and control characters. (The normalised form near-duplicates
are found by, ``normalize_text``, is ``data.normalise``'s.)

Pure Python (``re`` and ftfy's heuristics); pandas only inside the functions that take a Series.

>>> round(garbage_share("donâ€™t"), 2)  # UTF-8 read as cp1252: 2 of 7 characters are a mojibake pair
0.29
>>> garbage_share("café crème"), garbage_share("ações e informações"), garbage_share("Größe")  # real text
(0.0, 0.0, 0.0)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ftfy.badness import BADNESS_RE

if TYPE_CHECKING:
    import pandas as pd

# Replacement characters (bytes a decoder gave up on), ftfy's badness heuristic: the character
# pairs UTF-8 becomes when decoded as latin-1, cp1252, Mac Roman, cp1251 or cp1253 ("Ã©", "â€™", C1
# controls) and that real text in any language does not contain. Our former rule (runs of two
# Latin-1-supplement characters) flagged Portuguese "ações" and German "Größe"; ftfy flags none of
# the 20 languages of tests/encoding_corpus.py and catches more mojibake (bench/mojibake_bench.py).
# A str with an inline flag, since the GX expectation's configuration carries the pattern as text.
# Every match is non-ASCII, so ASCII texts are skipped without a regex.
# ftfy does not see the emoji mojibake of tweets that went through Mac Roman and lost bytes to "_"
# ("_ôÖ©_ôÖ©", "äìë¥", "äó»"): we add runs of Latin-1 characters holding an accented letter followed
# by an uppercase accented letter or by a symbol (©, ¥, ¢, ...), or two accented letters before « or »,
# which no language writes (« » ¿ ¡ after one letter, the no-break space and the soft hyphen are left
# out: real typography puts them there).
_ACCENTED = "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff"
_UPPER_ACCENTED = "\u00c0-\u00d6\u00d8-\u00de"
_SYMBOL = "\u00a2-\u00aa\u00ac\u00ae-\u00ba\u00bc-\u00be\u00d7\u00f7"
_EMOJI_MOJIBAKE = (f"[\u00a0-\u00ff]* (?: [\u00df-\u00f6\u00f8-\u00ff][{_UPPER_ACCENTED}] | [{_ACCENTED}][{_SYMBOL}]"
                   f" | [{_ACCENTED}]{{2}}[\u00ab\u00bb] ) [\u00a0-\u00ff]*")
GARBAGE_PATTERN = "(?x) \ufffd | " + BADNESS_RE.pattern + " | " + _EMOJI_MOJIBAKE
# C0 controls except tab, line feed and carriage return, and DEL.
CONTROL_PATTERN = "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]"

_GARBAGE = re.compile(GARBAGE_PATTERN)
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
    Python call per text; a match that runs into the newline after a text counts up to that text's end.
    """
    import numpy as np
    import pandas as pd

    values = [text if isinstance(text, str) else str(text) for text in texts.tolist()]
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    # ftfy's heuristic is ~8x slower than a character-class rule; it matches only non-ASCII text,
    # and most rows are ASCII, so only the others are scanned.
    scanned = [i for i, text in enumerate(values) if not text.isascii()] if pattern == GARBAGE_PATTERN \
        else range(len(values))
    scanned_lengths = lengths[np.asarray(scanned, dtype=np.int64)]
    starts = np.cumsum(scanned_lengths + 1) - (scanned_lengths + 1)  # where each text begins in the join
    joined = "\n".join(values[i] for i in scanned)
    spans = np.array([found.span() for found in re.finditer(pattern, joined)], dtype=np.int64)
    matched = np.zeros(len(values), dtype=np.int64)
    if len(spans):
        rows = np.searchsorted(starts, spans[:, 0], side="right") - 1
        ends = np.minimum(spans[:, 1], starts[rows] + scanned_lengths[rows])
        np.add.at(matched, np.asarray(scanned, dtype=np.int64)[rows], np.maximum(ends - spans[:, 0], 0))
    shares = np.divide(matched, lengths, out=np.zeros(len(values)), where=lengths > 0)
    return pd.Series(shares, index=texts.index, dtype="float64")


def first_match(text: str, pattern: str) -> str | None:
    """The first run ``pattern`` matches in a text, escaped for a message (``\\x00``)."""
    found = re.search(pattern, text)
    return None if found is None else found.group(0).encode("unicode_escape").decode("ascii")
