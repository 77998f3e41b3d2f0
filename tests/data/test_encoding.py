import numpy as np

from models.encoding import BUCKET, Encoded, batch_order, batches, choose_sequence_length, encode


def _encoded(lengths: list[int], cap: int = 64) -> Encoded:
    return Encoded([np.arange(1, n + 1, dtype=np.int32) for n in lengths], cap)


def test_sequence_length_fits_the_data_and_respects_the_cap():
    assert choose_sequence_length(np.array([5] * 97 + [41] * 3), cap=128) == -(-41 // BUCKET) * BUCKET
    assert choose_sequence_length(np.array([10, 20, 300]), cap=128) == 128
    assert choose_sequence_length(np.array([3, 4]), cap=128) == BUCKET


def test_batches_cover_every_row_once_and_pad_to_their_own_bucket():
    encoded = _encoded([3, 40, 5, 33, 7, 60, 2, 18, 9, 11], cap=64)
    seen = []
    for inputs, index in batches(encoded, batch_size=3, seed=1):
        longest = max(len(encoded.token_ids[i]) for i in index)
        width = inputs["token_ids"].shape[1]
        assert width % BUCKET == 0 and longest <= width < longest + BUCKET
        assert (inputs["padding_mask"] == (inputs["token_ids"] != 0)).all()
        seen += index.tolist()
    assert sorted(seen) == list(range(len(encoded)))


def test_shuffled_order_depends_on_the_seed_and_is_reproducible():
    encoded = _encoded(list(range(1, 200)))
    first = [b.tolist() for b in batch_order(encoded, 8, seed=3)]
    assert first == [b.tolist() for b in batch_order(encoded, 8, seed=3)]
    assert first != [b.tolist() for b in batch_order(encoded, 8, seed=4)]


def test_encode_adds_cls_and_sep_and_truncates(tiny_base_model):
    import keras_hub

    tokenizer = keras_hub.models.BertTokenizer.from_preset(tiny_base_model)
    encoded = encode(tokenizer, ["hello world", "word " * 50], sequence_length=16)
    first, second = encoded.token_ids
    assert first[0] == tokenizer.start_token_id and first[-1] == tokenizer.end_token_id
    assert len(first) == 4 and len(second) == 16


def test_scoring_batches_pad_to_their_longest_row_exactly() -> None:
    encoded = Encoded(token_ids=[np.arange(1, n + 1, dtype=np.int32) for n in (3, 5, 11, 12)], sequence_length=64)
    widths = [inputs["token_ids"].shape[1] for inputs, _ in batches(encoded, batch_size=2, pad_multiple=1)]
    assert widths == [5, 12]
