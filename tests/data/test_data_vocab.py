"""Tokenizer and Vocabulary: tokens, indices, ties, truncation, JSON round trip."""

from __future__ import annotations

import json

import pytest

from neuroplast.data import TextData, Tokenizer, Vocabulary, load_builtin
from neuroplast.errors import ConfigError, DataError


def test_tokenizer_words_apostrophes_punctuation_unicode() -> None:
    tokens = Tokenizer().tokenize("Don\u2019t STOP! It's £15.8m, naïve ﬁlm (rock'n'roll)")
    assert tokens == [
        "don't", "stop", "!", "it's", "£", "15", ".", "8m", ",", "naïve", "film",
        "(", "rock'n'roll", ")",
    ]  # fmt: skip
    assert Tokenizer(lowercase=False).tokenize("Hello World") == ["Hello", "World"]
    assert Tokenizer().tokenize("") == []


def test_pad_and_unk_indices() -> None:
    vocab = Vocabulary.build(["a b", "b c"])
    assert vocab.pad_index == 0 and vocab.unk_index == 1
    assert vocab.tokens[:2] == [Vocabulary.PAD, Vocabulary.UNK]
    assert vocab.encode("zebra b") == [1, vocab.index("b")]


def test_build_orders_by_frequency_then_token_and_counts_specials() -> None:
    vocab = Vocabulary.build(["b a c", "c b", "c d"], max_size=5)
    assert vocab.tokens == ["<pad>", "<unk>", "c", "b", "a"]  # a beats d on the tie
    assert len(vocab) == 5
    assert Vocabulary.build(["b a c", "c b", "c d"], min_freq=2).tokens[2:] == ["c", "b"]


def test_encode_truncates_and_empty_text_gives_empty_list() -> None:
    vocab = Vocabulary.build(["one two three four"])
    assert len(vocab.encode("one two three four", max_length=2)) == 2
    assert vocab.encode("") == []
    one, two, three = (vocab.index(t) for t in ("one", "two", "three"))
    assert vocab.encode_batch(["one", "", "two three"]) == [[one], [], [two, three]]
    batch = vocab.encode_batch(["one", "", "two three"], max_length=1)
    assert [len(ids) for ids in batch] == [1, 0, 1]
    assert vocab.decode(vocab.encode("two one")) == ["two", "one"]


def test_round_trip_gives_identical_encodings() -> None:
    data = load_builtin("rotten_tomatoes", limit=500, seed=0)
    assert isinstance(data, TextData)
    vocab = Vocabulary.build(data.texts[:400], max_size=1500, min_freq=1, lowercase=True)
    restored = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert restored == vocab
    assert restored.lowercase is True
    assert restored.encode_batch(data.texts, max_length=40) == vocab.encode_batch(
        data.texts, max_length=40
    )
    cased = Vocabulary.build(["Hello hello"], lowercase=False)
    assert cased.tokens[2:] == ["Hello", "hello"]
    assert Vocabulary.from_dict(cased.to_dict()).encode("hello Hello") == [3, 2]


def test_unknown_rate() -> None:
    vocab = Vocabulary.build(["good film"])
    assert vocab.unknown_rate(["good film"]) == 0.0
    assert vocab.unknown_rate(["good bad", "awful"]) == pytest.approx(2 / 3)
    assert vocab.unknown_rate([""]) == 0.0


def test_real_vocabulary_covers_held_out_reviews() -> None:
    data = load_builtin("rotten_tomatoes")
    assert isinstance(data, TextData)
    vocab = Vocabulary.build(data.texts[:10_000], max_size=20_000)
    assert 15_000 < len(vocab) < 20_000  # 18,515 distinct tokens (+2) in the first 10k reviews
    assert 0.03 < vocab.unknown_rate(data.texts[10_000:]) < 0.08  # measured 5.1%
    small = Vocabulary.build(data.texts[:10_000], max_size=5_000)
    assert len(small) == 5_000
    assert small.unknown_rate(data.texts[10_000:]) > vocab.unknown_rate(data.texts[10_000:])


def test_bad_vocabularies() -> None:
    with pytest.raises(ConfigError, match="counts <pad> and <unk>"):
        Vocabulary.build(["a"], max_size=1)
    with pytest.raises(DataError, match="must start with '<pad>', '<unk>'"):
        Vocabulary(["a", "b"])
    with pytest.raises(DataError, match="not unique"):
        Vocabulary(["<pad>", "<unk>", "a", "a"])
    with pytest.raises(DataError, match="'tokens' list"):
        Vocabulary.from_dict({"lowercase": True})
    with pytest.raises(DataError, match="schema_version 99"):
        Vocabulary.from_dict({"schema_version": 99, "tokens": ["<pad>", "<unk>"]})
