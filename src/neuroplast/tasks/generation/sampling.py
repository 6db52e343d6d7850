"""Sampling the next token (temperature, top-k, top-p, a seed) and the generation loop.

``generate`` yields token ids one at a time so that the CLI can print them as they come.
With ``use_cache`` the model is fed only the new token each step (the GPT's KV cache, the
LSTM's state); without it the whole window is run again each step. Both see the same
window: a GPT attends over at most ``context`` tokens, and when the text grows past that the
window restarts from the last ``context // 2`` tokens (one full pass refills the cache), so
the two paths compute the same logits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from neuroplast.errors import ConfigError

__all__ = ["Sampler", "generate", "window_start"]


@dataclass(frozen=True)
class Sampler:
    """How the next token is drawn: ``temperature`` 0 is greedy (argmax)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.temperature >= 0.0:
            raise ConfigError(
                f"--temperature {self.temperature}: must be 0 (greedy) or more, e.g. 0.8"
            )
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"--top-k {self.top_k}: must be 1 or more (or leave it out)")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ConfigError(
                f"--top-p {self.top_p}: must be in (0, 1], e.g. 0.9 (the share of "
                "probability mass kept); leave it out to turn it off"
            )

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed)

    def pick(self, logits: Tensor, generator: torch.Generator) -> int:
        """One token id from the logits ``[V]`` of the next position."""
        logits = logits.detach().double()
        if self.temperature == 0.0:
            return int(logits.argmax())
        logits = logits / self.temperature
        if self.top_k is not None and self.top_k < logits.numel():
            cut = torch.topk(logits, self.top_k).values[-1]
            logits = logits.masked_fill(logits < cut, float("-inf"))
        probs = torch.softmax(logits, dim=0)
        if self.top_p is not None and self.top_p < 1.0:
            ordered, order = torch.sort(probs, descending=True)
            before = torch.cumsum(ordered, dim=0) - ordered  # mass of the likelier tokens
            drop = order[before >= self.top_p]
            probs[drop] = 0.0
            probs = probs / probs.sum()
        return int(torch.multinomial(probs, 1, generator=generator))


def window_start(length: int, start: int, context: int | None) -> int:
    """Where the model's window begins for a text of ``length`` tokens (see module doc)."""
    if context is None or length - start <= context:
        return start
    return length - context // 2


@torch.inference_mode()
def generate(
    model: nn.Module,
    prompt: list[int],
    *,
    max_tokens: int,
    sampler: Sampler,
    use_cache: bool = True,
    stop_token: int | None = 0,
) -> Iterator[int]:
    """Yield up to ``max_tokens`` new token ids after ``prompt`` (which should start with the
    document boundary); stops early after yielding ``stop_token`` (the boundary)."""
    if max_tokens < 1:
        raise ConfigError(f"--max-tokens {max_tokens}: must be 1 or more")
    if not prompt:
        raise ConfigError("the prompt has no tokens; start it with the boundary token (id 0)")
    model.eval()
    step = cast(Any, model).step  # GPT / LSTM: (ids, cache) -> (logits, cache)
    context: int | None = getattr(model, "context", None)
    generator = sampler.generator()
    seq = list(prompt)
    start, cached_from, cache_len, cache = 0, -1, 0, None
    for _ in range(max_tokens):
        start = window_start(len(seq), start, context)
        if not use_cache:
            logits, _ = step(torch.tensor([seq[start:]]), None)
        elif cache is None or start != cached_from:
            logits, cache = step(torch.tensor([seq[start:]]), None)
            cached_from = start
        else:
            logits, cache = step(torch.tensor([seq[start + cache_len :]]), cache)
        cache_len = len(seq) - start
        token = sampler.pick(logits[0, -1], generator)
        seq.append(token)
        yield token
        if stop_token is not None and token == stop_token:
            return


def next_logits(model: nn.Module, tokens: list[int]) -> Any:
    """The logits ``[T, V]`` of a whole sequence in one pass (for tests and checks)."""
    with torch.inference_mode():
        return model(torch.tensor([tokens]))[0]
