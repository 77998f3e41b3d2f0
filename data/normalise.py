"""The form two texts share when they say the same thing, and its 64-bit key: what duplicates are found by,
in a batch (``validation``) and among the stored rows (``data.reference``).

Pure Python (``re``, ``unicodedata``, ``hashlib``): the data checks import it without pandas.

>>> normalize_text("  Great FILM!!  http://t.co/x1 ")
'great film'
>>> normalize_text("ＧＲＥＡＴ film") == normalize_text("great film")  # NFKC: full-width letters
True
>>> normalize_text("!!!")  # nothing but punctuation: compared as written, case and spacing aside
'!!!'
>>> normalised_key("great film") == normalised_key(normalize_text("Great film!"))
True
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

SCHEME = 1  # of normalize_text: bump it with any change to what two texts share (stored keys are redone)

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


def normalised_key(normalised: str) -> int:
    """A normalised text as a signed 64-bit integer (the first 8 bytes of its BLAKE2b digest): two
    different texts share one with probability 2**-64, and a shared key is only a candidate (the
    caller compares the texts themselves)."""
    return int.from_bytes(hashlib.blake2b(normalised.encode(), digest_size=8).digest(), "big", signed=True)
