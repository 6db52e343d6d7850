"""Generated text piece by piece from a loaded language model: the prompt's tokens, the
sampling loop, and decoding that never splits a character. Imports no training code, so
``neuroplast generate`` starts quickly."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from neuroplast.errors import DataError
from neuroplast.tasks.generation.sampling import Sampler, generate
from neuroplast.tasks.generation.tokenizer import CharTokenizer
from neuroplast.tasks.generation.versions import LoadedLM

__all__ = ["prompt_ids", "stream_text"]

logger = logging.getLogger(__name__)


def prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    """The boundary token followed by the prompt's tokens; in character mode a prompt made
    only of characters the model never saw is refused."""
    ids = tokenizer.encode(prompt) if prompt else []
    if isinstance(tokenizer, CharTokenizer) and ids and all(i == 1 for i in ids):
        sample = "".join(tokenizer.chars[2:40]) if len(tokenizer.chars) > 2 else ""
        raise DataError(
            f"the prompt {prompt!r} has no character this model knows (it was trained on "
            f"{len(tokenizer.chars)} characters, such as {sample!r}); write the prompt with "
            "those, or leave it empty"
        )
    unknown = sorted({c for c, i in zip(prompt, ids, strict=False) if i == 1})
    if isinstance(tokenizer, CharTokenizer) and unknown:
        logger.warning("prompt characters unknown to the model, read as <unk>: %s", unknown)
    return [0, *ids]


def stream_text(
    lm: LoadedLM, prompt: str, *, max_tokens: int, sampler: Sampler, use_cache: bool = True
) -> Iterator[str]:
    """The generated text as it comes (the prompt itself is not repeated); stops at
    ``max_tokens`` or at the end of a document. A bad prompt fails here, before any text."""
    ids = prompt_ids(lm.tokenizer, prompt)
    tokens = generate(lm.model, ids, max_tokens=max_tokens, sampler=sampler, use_cache=use_cache)
    return _pieces(lm.tokenizer, tokens)


def _pieces(tokenizer: Any, tokens: Iterator[int]) -> Iterator[str]:
    new: list[int] = []
    shown = ""
    for token in tokens:
        if token == 0:
            return
        new.append(token)
        text = tokenizer.decode(new)
        if text.endswith("\ufffd"):
            continue  # half of a multi-byte character: wait for the rest
        yield text[len(shown) :]
        shown = text
