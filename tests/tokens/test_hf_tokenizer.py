# ruff: noqa: RUF001  (look-alike characters are what these tests are about)
"""tokenizer.json: the Hugging Face ``tokenizers`` library, loading the file neuroplast
writes, gives exactly neuroplast's token ids (real reviews, hard cases, random Unicode)."""

from __future__ import annotations

import itertools
import json
import random
import unicodedata
from functools import cache

import pytest
from tokenizers import Tokenizer

from neuroplast.data.builtin import load_builtin
from neuroplast.errors import ConfigError
from neuroplast.tokens import Vocabulary
from neuroplast.tokens.hf import hf_tokenizer_json, known_differences

MAX_LENGTH = 40  # as the tests' small text model; about 4 % of the reviews are longer

HARD_CASES = [
    "",
    " ",
    "   \t\n\r  \x0b\x0c",
    "\u00a0\u2003\u3000",  # no-break, em and ideographic spaces
    "\x1c\x1d\x1e\x1f",  # Python's str.isspace says yes, Unicode's White_Space says no
    "Café, naïve résumé — déjà vu!",
    "Cafe\u0301 nai\u0308ve",  # decomposed accents, composed by NFKC
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３",
    "ﬁne ﬂavour ½ ² ℌ ①",  # compatibility forms
    "I loved it 😀👍🏽🎬!!! 10/10 🍿",
    "what?!?!... ---- ***** ~~~ ((( )))",
    "don't can’t won‘t it\u02bcs o＇clock rock'n'roll 'quoted' ''double''",
    "snake_case __init__ a_b_c _",
    "3.14 1,000,000 2nd 1990s -5 +7 42% $9.99 #1",
    "İstanbul STRASSE Straße ǅ ǈ",
    "ΟΔΟΣ ΚΑΛΟΣ. ΑΣ'Β ΣΑΣ Σ",
    "日本語のテキスト 中文 한국어 العربية עברית हिन्दी ภาษาไทย",
    "tab\tseparated\nnew line\r\nwindows",
    "\u200b\u200d\ufeff zero width",
    "A" * 50 + " " + "b" * 50,
    # NFKC mappings newer than the Rust crate's tables: repaired before its NFKC runs
    "\ua7f2\ua7f3ab \U0001fbf1\U0001fbf2 \u32ff \U00010783",
]
#: The case above that needs the repairs, and what neuroplast makes of it.
NEWER_NFKC = (HARD_CASES[-1], ["cfab", "12", "\u4ee4\u548c", "\u00e6"])


@cache
def _reviews() -> list[str]:
    return list(load_builtin("rotten_tomatoes", seed=0).texts)


@cache
def _vocab() -> Vocabulary:
    # built from part of the reviews (the rest holds words it lacks: <unk>), plus every
    # token of the hard cases
    base = Vocabulary.build(_reviews()[:4000], max_size=6000)
    known = set(base.tokens)
    extra = sorted({t for text in HARD_CASES for t in base.tokenize(text)} - known)
    return Vocabulary([*base.tokens, *extra])


def _hf(vocab: Vocabulary, max_length: int | None = MAX_LENGTH) -> Tokenizer:
    tokenizer = Tokenizer.from_str(hf_tokenizer_json(vocab, max_length=max_length))
    tokenizer.no_padding()
    return tokenizer


def test_real_reviews_give_neuroplasts_ids() -> None:
    vocab, texts = _vocab(), _reviews()[-3000:]
    assert len(texts) >= 2000
    got = [e.ids for e in _hf(vocab).encode_batch(texts)]
    expected = [vocab.encode(t, max_length=MAX_LENGTH) for t in texts]
    assert sum(g != e for g, e in zip(got, expected, strict=True)) == 0
    unknown = sum(ids.count(vocab.unk_index) for ids in expected)
    assert unknown > 0, "the texts hold unknown words, so <unk> is exercised"
    assert any(len(e) == MAX_LENGTH for e in expected), "some reviews are truncated"


@pytest.mark.parametrize("text", HARD_CASES)
def test_hard_cases(text: str) -> None:
    vocab = _vocab()
    assert _hf(vocab).encode(text).ids == vocab.encode(text, max_length=MAX_LENGTH)


def test_the_repairs_are_needed_for_newer_nfkc_mappings() -> None:
    """Without the per-character repairs, tokenizers' own NFKC leaves these characters as
    they are (so the hard case above would fail)."""
    from tokenizers import normalizers

    text, tokens = NEWER_NFKC
    assert _vocab().tokenize(text) == tokens
    plain = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    assert plain.normalize_str(text) != _vocab().tokenizer.normalize(text)


def test_hard_cases_are_in_the_vocabulary() -> None:
    """The hard cases' own tokens are known, so a wrong split or normalisation shows as a
    different id, not as <unk> on both sides."""
    vocab = _vocab()
    for text in HARD_CASES:
        assert vocab.unk_index not in vocab.encode(text), text


def test_a_10000_character_text_is_truncated_to_max_length() -> None:
    vocab = _vocab()
    text = " ".join(_reviews()[:400])[:10_000]
    assert len(text) == 10_000
    for limit in (MAX_LENGTH, 7, None):
        ids = _hf(vocab, max_length=limit).encode(text).ids
        assert ids == vocab.encode(text, max_length=limit)
    assert len(_hf(vocab).encode(text).ids) == MAX_LENGTH


def test_a_batch_is_padded_with_the_pad_id_to_its_longest_text() -> None:
    vocab = _vocab()
    tokenizer = Tokenizer.from_str(hf_tokenizer_json(vocab, max_length=MAX_LENGTH))
    texts = ["a gorgeous, witty film", "a mess", "x" * 20]
    encoded = tokenizer.encode_batch(texts)
    width = max(len(vocab.encode(t)) for t in texts)
    for e, text in zip(encoded, texts, strict=True):
        ids = vocab.encode(text)
        assert e.ids == ids + [vocab.pad_index] * (width - len(ids))
        assert e.attention_mask == [1] * len(ids) + [0] * (width - len(ids))


def test_case_is_kept_when_the_vocabulary_keeps_it() -> None:
    texts = [*_reviews()[:500], *HARD_CASES]
    vocab = Vocabulary.build(texts, lowercase=False)
    tokenizer = _hf(vocab, max_length=None)
    for text in texts:
        assert tokenizer.encode(text).ids == vocab.encode(text), text


def test_the_file_is_a_word_level_tokenizer_with_its_settings() -> None:
    vocab = _vocab()
    spec = json.loads(hf_tokenizer_json(vocab, max_length=MAX_LENGTH))
    assert spec["model"]["type"] == "WordLevel"
    assert spec["model"]["unk_token"] == "<unk>"
    assert spec["model"]["vocab"]["<pad>"] == 0 and len(spec["model"]["vocab"]) == len(vocab)
    assert spec["truncation"]["max_length"] == MAX_LENGTH
    assert spec["padding"]["pad_id"] == 0 and spec["padding"]["pad_token"] == "<pad>"


def _has_mark_run(text: str) -> bool:
    """Two combining marks in a row somewhere: NFKC reorders those by their combining
    class, which the Rust tables lack for marks newer than them."""
    nfkd = unicodedata.normalize("NFKD", text)
    return any(
        unicodedata.combining(a) and unicodedata.combining(b) for a, b in itertools.pairwise(nfkd)
    )


def test_random_unicode_differs_only_in_runs_of_new_combining_marks() -> None:
    """20,000 strings of random code points from U+0020-U+2FFF (every script, mark and
    symbol there): the ids differ only where two combining marks meet and the Rust NFKC
    tables order them differently (measured: about 0.3 % of such strings; 0 in real
    text)."""
    rng = random.Random(1)
    unknown = set(known_differences())
    pool = [chr(c) for c in range(0x20, 0x3000) if not 0xD800 <= c <= 0xDFFF]
    pool = [c for c in pool if c not in unknown]
    texts = ["".join(rng.choices(pool, k=rng.randint(0, 40))) for _ in range(20_000)]
    vocab = Vocabulary.build(texts[:10_000], max_size=10**6)
    encoded = _hf(vocab, max_length=None).encode_batch(texts)
    differ = [t for t, e in zip(texts, encoded, strict=True) if e.ids != vocab.encode(t)]
    assert len(differ) <= 0.01 * len(texts)
    assert [t for t in differ if not _has_mark_run(t)] == []


def test_known_differences_are_code_points_this_python_does_not_know() -> None:
    known = known_differences()
    assert all(unicodedata.category(c) == "Cn" for c in known)


def test_a_max_length_below_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_length must be at least 1"):
        hf_tokenizer_json(_vocab(), max_length=0)
