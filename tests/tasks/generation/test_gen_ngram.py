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
    from neuroplast.tasks.generation.perplexity import model_perplexity, token_losses

    torch.manual_seed(0)
    bigram = nn.Embedding(30, 30)  # logits of the next token from the current one only
    for n in (2, 6, 17, 40, 41):
        stream = torch.randint(0, 30, (n,)).tolist()
        with torch.inference_mode():
            each = nn.functional.cross_entropy(
                bigram(torch.tensor(stream[:-1])), torch.tensor(stream[1:]), reduction="none"
            )
        ppl = model_perplexity(bigram, stream, context=context, chars=n, stride=stride)
        assert ppl.tokens == n - 1
        assert math.isclose(ppl.nll_sum, float(each.sum()), rel_tol=1e-5)
        per_token = token_losses(bigram, stream, context=context, stride=stride)
        assert torch.allclose(per_token, each.double(), atol=1e-5)
    with pytest.raises(DataError, match="stride 9: must be between 1 and the context"):
        model_perplexity(bigram, [1, 2, 3], context=8, chars=3, stride=9)


def test_per_token_losses_add_up_and_group_by_place_and_count(streams) -> None:
    from neuroplast.errors import DataError
    from neuroplast.tasks.generation.breakdown import document_positions, loss_breakdown

    train, test, vocab = streams
    ngram = KneserNey(3, vocab).fit(train)
    each = ngram.token_nll(test)
    assert len(each) == len(test) - 1
    assert math.isclose(math.fsum(each), ngram.nll(test)[0])
    assert document_positions([0, 5, 6, 0, 7, 0]) == [1, 2, 3, 1, 2]
    stream, history = [0, 5, 6, 0, 7, 0], [5] * 150 + [6] * 20 + [7]
    groups = loss_breakdown(stream, history, {"a": [1.0, 2.0, 3.0, 4.0, 5.0]})
    place = {g.name: (g.tokens, g.mean_loss["a"]) for g in groups["position in document"]}
    assert place["end of document"] == (2, 4.0)  # targets 0 (after 6) and 0 (after 7)
    assert place["position 1"] == (2, 2.5) and place["position 2-4"] == (1, 2.0)
    count = {g.name: g.tokens for g in groups["target's count in training"]}
    assert count == {
        "train count >= 10,000": 0,
        "train count 1,000-9,999": 0,
        "train count 100-999": 1,  # 5
        "train count 0-99": 4,  # 6, 7 and the boundary twice
    }
    assert sum(g.share for g in groups["position in document"]) == 1.0
    with pytest.raises(DataError, match="a: 2 losses for 5 scored tokens"):
        loss_breakdown(stream, history, {"a": [1.0, 2.0]})
