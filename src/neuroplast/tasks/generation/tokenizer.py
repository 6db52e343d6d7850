"""Character and subword (byte-level BPE) tokens for language models, saved as JSON.

Both kinds reserve id 0 for the document boundary ``<|doc|>``: a stream is
``<|doc|> doc1 <|doc|> doc2 <|doc|> ...``, so generation starts from the boundary and stops
when the model writes it. The BPE is trained with Hugging Face's ``tokenizers`` library
(imported lazily) and stored as that library's JSON with the version that wrote it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from neuroplast._version import __version__
from neuroplast.errors import ArtifactError, ConfigError, DataError

__all__ = [
    "BOUNDARY",
    "BpeTokenizer",
    "CharTokenizer",
    "TextTokenizer",
    "encode_documents",
    "tokenizer_from_json",
    "train_tokenizer",
]

BOUNDARY, UNK = "<|doc|>", "<unk>"
_FORMAT = "neuroplast-lm-tokenizer"


class TextTokenizer(Protocol):
    kind: str

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass
class CharTokenizer:
    """One token per character; characters outside the vocabulary become ``<unk>`` (id 1)."""

    chars: list[str]
    kind: str = "char"
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {c: i + 2 for i, c in enumerate(self.chars)}

    @classmethod
    def train(cls, documents: Iterable[str], max_chars: int) -> CharTokenizer:
        counts = Counter[str]()
        for doc in documents:
            counts.update(doc)
        kept = [c for c, _ in counts.most_common(max_chars)]
        return cls(sorted(kept))

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 2

    def encode(self, text: str) -> list[int]:
        return [self._index.get(c, 1) for c in text]

    def decode(self, ids: list[int]) -> str:
        out = []
        for i in ids:
            out.append(self.chars[i - 2] if i >= 2 else ("\n" if i == 0 else "\ufffd"))
        return "".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "kind": "char",
            "neuroplast_version": __version__,
            "special": [BOUNDARY, UNK],
            "chars": self.chars,
        }


class BpeTokenizer:
    """Byte-level BPE (no unknown tokens) of the ``tokenizers`` library."""

    kind = "bpe"

    def __init__(self, tokenizer: Any, library_version: str) -> None:
        self._tok = tokenizer
        self.library_version = library_version

    @classmethod
    def train(cls, documents: list[str], vocab_size: int) -> BpeTokenizer:
        tk = _tokenizers()
        tok = tk.Tokenizer(tk.models.BPE())
        tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = tk.decoders.ByteLevel()
        trainer = tk.trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[BOUNDARY],
            initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(documents, trainer=trainer)
        return cls(tok, tk.__version__)

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size())

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text).ids)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [list(e.ids) for e in self._tok.encode_batch(texts)]

    def decode(self, ids: list[int]) -> str:
        return str(self._tok.decode([i for i in ids if i != 0], skip_special_tokens=True))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "kind": "bpe",
            "neuroplast_version": __version__,
            "tokenizers_version": self.library_version,
            "tokenizer": self._tok.to_str(),
        }


def _tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError as e:
        raise ConfigError(
            "generation.tokenizer: bpe needs the `tokenizers` package: "
            "pip install 'neuroplast[encoders]' (or use generation.tokenizer: char)"
        ) from e
    return tokenizers


def train_tokenizer(kind: str, documents: list[str], *, vocab_size: int, max_chars: int) -> Any:
    """A tokenizer of ``kind`` fitted on ``documents`` (the training split)."""
    if kind == "char":
        return CharTokenizer.train(documents, max_chars)
    if kind == "bpe":
        return BpeTokenizer.train(documents, vocab_size)
    raise ConfigError(f"generation.tokenizer={kind!r}: choose char or bpe")


def tokenizer_from_json(payload: Any) -> CharTokenizer | BpeTokenizer:
    """Rebuild a tokenizer saved by ``to_json``."""
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ArtifactError("tokenizer.json is not a neuroplast language-model tokenizer")
    if payload["kind"] == "char":
        return CharTokenizer([str(c) for c in payload["chars"]])
    if payload["kind"] == "bpe":
        tk = _tokenizers()
        return BpeTokenizer(
            tk.Tokenizer.from_str(payload["tokenizer"]), str(payload.get("tokenizers_version", ""))
        )
    raise ArtifactError(f"tokenizer.json has an unknown kind {payload['kind']!r}")


def encode_documents(tokenizer: Any, documents: list[str]) -> list[int]:
    """The token stream ``<|doc|> d1 <|doc|> d2 ... <|doc|>``."""
    if not documents:
        raise DataError("no documents to encode")
    batch = (
        tokenizer.encode_batch(documents)
        if isinstance(tokenizer, BpeTokenizer)
        else [tokenizer.encode(d) for d in documents]
    )
    stream = [0]
    for ids in batch:
        stream += ids
        stream.append(0)
    return stream
