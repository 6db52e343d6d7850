"""A token vocabulary with fixed padding (index 0) and unknown-token (index 1) entries.

``Vocabulary.build`` keeps the most frequent tokens, breaking frequency ties by the token text
so that the same texts always give the same indices. ``to_dict`` / ``from_dict`` round-trip
through JSON with the tokenizer setting, so a saved model encodes new text the same way.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from neuroplast.errors import ConfigError, DataError
from neuroplast.tokens.tokenizer import Tokenizer

__all__ = ["Vocabulary"]

logger = logging.getLogger(__name__)

_SCHEMA_VERSION = 1


class Vocabulary:
    """Maps tokens to indices; ``tokens[i]`` is the token of index ``i``."""

    PAD = "<pad>"
    UNK = "<unk>"

    def __init__(self, tokens: Sequence[str], *, lowercase: bool = True) -> None:
        tokens = list(tokens)
        if tokens[:2] != [self.PAD, self.UNK]:
            raise DataError(
                f"a vocabulary must start with {self.PAD!r}, {self.UNK!r}, got {tokens[:2]!r}; "
                "build it with Vocabulary.build or save it with to_dict"
            )
        index = {token: i for i, token in enumerate(tokens)}
        if len(index) != len(tokens):
            duplicates = sorted({t for t in tokens if tokens.count(t) > 1})[:5]
            raise DataError(
                f"vocabulary tokens are not unique (repeated: {duplicates!r}); rebuild it with "
                "Vocabulary.build"
            )
        self._tokens = tokens
        self._index = index
        self.lowercase = lowercase
        self.tokenizer = Tokenizer(lowercase=lowercase)

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        max_size: int = 20000,
        min_freq: int = 1,
        lowercase: bool = True,
    ) -> Vocabulary:
        """The ``max_size - 2`` most frequent tokens seen at least ``min_freq`` times.

        ``max_size`` counts ``<pad>`` and ``<unk>``. Ties: higher frequency first, then the
        token in code-point order.
        """
        if max_size < 2:
            raise ConfigError(
                f"max_size={max_size} is too small; it counts <pad> and <unk>, use >= 2"
            )
        if min_freq < 1:
            raise ConfigError(f"min_freq={min_freq} must be at least 1")
        tokenizer = Tokenizer(lowercase=lowercase)
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(tokenizer.tokenize(text))
        counts.pop(cls.PAD, None)
        counts.pop(cls.UNK, None)
        kept = sorted(
            (t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t)
        )
        kept = kept[: max_size - 2]
        logger.debug("vocabulary: kept %d of %d distinct tokens", len(kept), len(counts))
        return cls([cls.PAD, cls.UNK, *kept], lowercase=lowercase)

    @property
    def pad_index(self) -> int:
        return 0

    @property
    def unk_index(self) -> int:
        return 1

    @property
    def tokens(self) -> list[str]:
        """All tokens in index order (a copy)."""
        return list(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def index(self, token: str) -> int:
        """The index of ``token`` (already tokenized), or ``unk_index``."""
        return self._index.get(token, 1)

    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text)

    def encode(self, text: str, *, max_length: int | None = None) -> list[int]:
        """Token indices of ``text``, cut to ``max_length``; an empty text gives ``[]``."""
        tokens = self.tokenizer.tokenize(text)
        if max_length is not None:
            tokens = tokens[:max_length]
        get = self._index.get
        return [get(token, 1) for token in tokens]

    def encode_batch(
        self, texts: Sequence[str], *, max_length: int | None = None
    ) -> list[list[int]]:
        return [self.encode(text, max_length=max_length) for text in texts]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids`` (for explanations and debugging)."""
        return [self._tokens[i] for i in ids]

    def unknown_rate(self, texts: Iterable[str]) -> float:
        """Share of all tokens in ``texts`` that map to ``<unk>`` (0.0 when there are none)."""
        total = unknown = 0
        for text in texts:
            ids = self.encode(text)
            total += len(ids)
            unknown += ids.count(1)
        return unknown / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": _SCHEMA_VERSION,
            "lowercase": self.lowercase,
            "tokens": list(self._tokens),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        if not isinstance(d, dict) or not isinstance(d.get("tokens"), list):
            raise DataError(
                "a saved vocabulary must be a dict with a 'tokens' list; re-save it with "
                "Vocabulary.to_dict"
            )
        if d.get("kind") == "wordpiece":  # a pretrained encoder's own tokenizer
            from neuroplast.tokens.wordpiece import WordPieceVocabulary

            return WordPieceVocabulary.from_dict(d)
        version = d.get("schema_version", _SCHEMA_VERSION)
        if version != _SCHEMA_VERSION:
            raise DataError(
                f"saved vocabulary has schema_version {version}, this neuroplast reads "
                f"{_SCHEMA_VERSION}; upgrade neuroplast or rebuild the vocabulary"
            )
        return cls(d["tokens"], lowercase=bool(d.get("lowercase", True)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._tokens == other._tokens and self.lowercase == other.lowercase

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, lowercase={self.lowercase})"
