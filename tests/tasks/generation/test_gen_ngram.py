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


@pytest.mark.parametrize(("context", "stride"), [(16, 8), (16, 16), (7, 3), (5, 1)])
def test_overlapping_windows_score_every_token_once(context: int, stride: int) -> None:
    import torch
    from torch import nn

    from neuroplast.errors import DataError
    from neuroplast.tasks.generation.perplexity import model_perplexity

    torch.manual_seed(0)
    bigram = nn.Embedding(30, 30)  # logits of the next token from the current one only
    for n in (2, 6, 17, 40, 41):
        stream = torch.randint(0, 30, (n,)).tolist()
        with torch.inference_mode():
            whole = nn.functional.cross_entropy(
                bigram(torch.tensor(stream[:-1])), torch.tensor(stream[1:]), reduction="sum"
            )
        ppl = model_perplexity(bigram, stream, context=context, chars=n, stride=stride)
        assert ppl.tokens == n - 1
        assert math.isclose(ppl.nll_sum, float(whole), rel_tol=1e-5)
    with pytest.raises(DataError, match="stride 9: must be between 1 and the context"):
        model_perplexity(bigram, [1, 2, 3], context=8, chars=3, stride=9)
