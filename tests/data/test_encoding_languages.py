"""The encoding check knows real languages: correct text in 20 languages is never garbage, while the
mojibake real pipelines make of the same sentences (UTF-8 read as latin-1 or cp1252, double-encoded)
is caught. The corpus is tests/encoding_corpus.py; bench/mojibake_bench.py compares the detectors."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.encoding_corpus import REAL_TEXT, mojibake, real_sentences
from validation.batch_checks import BatchExpectations, validate_batch
from validation.text import garbage_share, garbage_shares

REAL = real_sentences()
GARBLED = mojibake()


def test_the_corpus_covers_the_languages_the_issue_names() -> None:
    named = {"German", "Portuguese", "French", "Spanish", "Polish", "Turkish", "Czech", "Vietnamese", "Greek",
             "Russian", "Arabic", "Japanese"}
    assert named <= set(REAL_TEXT) and len(REAL_TEXT) >= 12
    assert {how for _, how, _ in GARBLED} == {"utf-8 read as latin-1", "utf-8 read as cp1252",
                                             "double-encoded (cp1252 twice)"}


@pytest.mark.parametrize("language", REAL_TEXT)
def test_correct_text_holds_no_garbage_at_all(language: str) -> None:
    # Not merely under the default bound: not one character, so a team may set the bound to 0.
    assert {text: garbage_share(text) for text in REAL_TEXT[language] if garbage_share(text) > 0} == {}


def test_the_issue_examples_are_ordinary_text() -> None:
    assert garbage_share("ações e informações") == 0.0 and garbage_share("Größe") == 0.0


@pytest.mark.parametrize("how", ["utf-8 read as latin-1", "utf-8 read as cp1252", "double-encoded (cp1252 twice)"])
def test_every_mojibake_text_is_found(how: str) -> None:
    texts = [text for _, kind, text in GARBLED if kind == how]
    assert len(texts) > 40
    assert [text for text in texts if garbage_share(text) == 0] == []


def test_the_batch_check_quarantines_no_real_sentence_and_every_mojibake_at_bound_zero() -> None:
    texts = [text for _, text in REAL] + [text for *_, text in GARBLED]
    frame = pd.DataFrame({"id": range(1, len(texts) + 1), "text": texts,
                          "label": ["negative", "positive"] * (len(texts) // 2) + ["negative"] * (len(texts) % 2)})
    expectations = BatchExpectations(labels=("negative", "positive"), max_garbage_share=0.0, max_quarantine_share=1.0,
                                     max_class_share=1.0, length_outlier_factor=1e9)

    report = validate_batch(frame, expectations)  # through Great Expectations, as a run checks a batch

    flagged = {row.row_id for row in report.flagged if "encoding_garbage" in dict(row.reasons)}
    assert flagged == set(range(len(REAL) + 1, len(texts) + 1))


def test_dense_mojibake_is_over_the_default_bound() -> None:
    bound = BatchExpectations(labels=("a", "b")).max_garbage_share
    dense = ["I could cry of happiness _ôÖ©_ôÖ©_ôÖ©_ôÖ©_ôÖ© #Coachella2015", "donâ€™t",
             *[text for language, _, text in GARBLED if language in {"Russian", "Greek", "Japanese", "Arabic"}]]
    shares = garbage_shares(pd.Series(dense))
    assert (shares > bound).all(), dict(zip(dense, shares, strict=True))
