"""The Kneser-Ney baseline: a distribution (sums to 1), and it learns real text."""

from __future__ import annotations

import math
import random

import pytest

from neuroplast.tasks.generation.ngram import KneserNey
from neuroplast.tasks.generation.tokenizer import CharTokenizer, encode_documents


@pytest.fixture(scope="module")
def streams(fortunes_slice: list[str]) -> tuple[list[int], list[int], int]:
    tok = CharTokenizer.train(fortunes_slice[:100], 200)
    return (
        encode_documents(tok, fortunes_slice[:100]),
        encode_documents(tok, fortunes_slice[100:]),
        tok.vocab_size,
    )


@pytest.mark.parametrize("order", [1, 3, 5])
def test_probabilities_sum_to_one_after_seen_and_unseen_histories(streams, order: int) -> None:
    train, _, vocab = streams
    model = KneserNey(order, vocab).fit(train)
    for history in (train[50:60], [vocab - 1] * 4, []):
        assert math.isclose(sum(model.prob(history, w) for w in range(vocab)), 1.0, abs_tol=1e-9)


def test_longer_histories_help_and_shuffled_text_is_worse(streams) -> None:
    train, test, vocab = streams
    ppl = {n: KneserNey(n, vocab).fit(train).perplexity(test) for n in (1, 2, 4)}
    assert ppl[4] < ppl[2] < ppl[1]
    shuffled = test[:]
    random.Random(0).shuffle(shuffled)
    assert KneserNey(4, vocab).fit(train).perplexity(shuffled) > 2 * ppl[4]
