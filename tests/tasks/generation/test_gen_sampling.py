"""Sampling: a seed fixes the text on the CPU; top-k / top-p narrow it; bad values explain."""

from __future__ import annotations

import pytest
import torch

from neuroplast.errors import ConfigError
from neuroplast.tasks.generation.models import create_lm
from neuroplast.tasks.generation.sampling import Sampler, generate


@pytest.fixture()
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_lm("gpt", dict(vocab_size=50, context=32, d_model=16, n_layers=1, n_heads=2))


def _text(model: torch.nn.Module, sampler: Sampler) -> list[int]:
    return list(generate(model, [0, 4], max_tokens=25, sampler=sampler, stop_token=None))


def test_the_same_seed_gives_the_same_tokens_and_another_seed_others(model) -> None:
    first = _text(model, Sampler(temperature=1.0, top_p=0.95, seed=7))
    assert _text(model, Sampler(temperature=1.0, top_p=0.95, seed=7)) == first
    assert _text(model, Sampler(temperature=1.0, top_p=0.95, seed=8)) != first


def test_top_k_one_and_a_tiny_top_p_are_greedy(model) -> None:
    greedy = _text(model, Sampler(temperature=0.0))
    assert _text(model, Sampler(temperature=1.5, top_k=1, seed=1)) == greedy
    assert _text(model, Sampler(temperature=1.5, top_p=1e-6, seed=2)) == greedy


def test_top_k_keeps_only_the_k_likeliest() -> None:
    logits = torch.tensor([0.0, 3.0, 2.0, 1.0, -1.0])
    g = torch.Generator().manual_seed(0)
    picked = {Sampler(temperature=5.0, top_k=2).pick(logits, g) for _ in range(200)}
    assert picked == {1, 2}


def test_top_p_keeps_the_smallest_set_holding_the_mass() -> None:
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    g = torch.Generator().manual_seed(0)
    sampler = Sampler(temperature=1.0, top_p=0.75)  # 0.5 + 0.3 reach 0.75
    assert {sampler.pick(probs.log(), g) for _ in range(300)} == {0, 1}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"top_p": 1.5}, r"--top-p 1.5: must be in \(0, 1\]"),
        ({"top_p": 0.0}, r"--top-p 0.0: must be in \(0, 1\]"),
        ({"temperature": -1.0}, r"--temperature -1.0: must be 0"),
        ({"top_k": 0}, r"--top-k 0: must be 1 or more"),
    ],
)
def test_bad_sampling_values_are_refused_with_the_range(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Sampler(**kwargs)
