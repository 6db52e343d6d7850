"""A pretrained encoder's own WordPiece tokenizer as a :class:`~neuroplast.tokens.Vocabulary`.

Models built on a pretrained encoder (``model.architecture: minilm``) read the ids of the
encoder's real fast tokenizer (Hugging Face ``tokenizers``, from its ``tokenizer.json``):
``[CLS]``, the WordPiece ids, ``[SEP]``, padded with 0 (``[PAD]``). Everything that encodes
text through a model's vocabulary (training, evaluation, the Predictor, the ONNX Runtime
predictor, explanations, drift features) then uses those ids unchanged. The whole
``tokenizer.json`` is saved in ``vocab.json``, so a saved model encodes text without the
package that shipped the encoder, and without torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from neuroplast.errors import ConfigError, DataError
from neuroplast.tokens.vocab import Vocabulary

__all__ = ["KIND", "WordPieceVocabulary"]

#: The ``kind`` of a saved WordPiece vocabulary (``vocab.json``).
KIND = "wordpiece"
_SCHEMA_VERSION = 1


def _tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError as e:
        raise ConfigError(
            "this model reads text with a pretrained WordPiece tokenizer, which needs Hugging "
            "Face tokenizers: pip install 'neuroplast[encoders]'"
        ) from e
    return tokenizers


class WordPieceVocabulary(Vocabulary):
    """The ids of a BERT-style ``tokenizer.json``: ``[CLS] pieces [SEP]``, cut to
    ``max_length`` tokens with ``[SEP]`` kept last, as the tokenizer's own truncation does."""

    def __init__(self, tokenizer_json: str, *, name: str = "") -> None:
        tokenizer = _tokenizers().Tokenizer.from_str(tokenizer_json)
        tokenizer.no_padding()
        tokenizer.no_truncation()
        table = tokenizer.get_vocab(with_added_tokens=True)
        tokens = [""] * len(table)
        for token, i in table.items():
            if not 0 <= i < len(tokens) or tokens[i]:
                raise DataError(f"tokenizer {name or '?'}: its ids are not 0..{len(table) - 1}")
            tokens[i] = token
        special = {t: tokenizer.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]")}
        missing = [t for t, i in special.items() if i is None]
        if missing or special["[PAD]"] != 0:
            raise DataError(
                f"tokenizer {name or '?'} is not a BERT WordPiece tokenizer with [PAD] = 0 "
                f"(missing: {', '.join(missing) or 'none'}); neuroplast pads with id 0"
            )
        self._tokens = tokens
        self._index = dict(table)
        self.lowercase = True
        self.name = name
        self._json = tokenizer_json
        # the same tokenizer however its JSON is laid out (what equality and sha256 compare)
        self._canonical = json.dumps(json.loads(tokenizer_json), sort_keys=True)
        self._hf = tokenizer
        self._unk = int(special["[UNK]"])
        self._sep = int(special["[SEP]"])

    @classmethod
    def from_file(cls, path: str, *, name: str = "") -> WordPieceVocabulary:
        with open(path, encoding="utf-8") as f:
            return cls(f.read(), name=name)

    @property
    def unk_index(self) -> int:
        return self._unk

    @property
    def sha256(self) -> str:
        """The sha256 of the tokenizer's JSON (keys sorted: what identifies it)."""
        return hashlib.sha256(self._canonical.encode("utf-8")).hexdigest()

    def _cut(self, ids: list[int], max_length: int | None) -> list[int]:
        if max_length is None or len(ids) <= max_length:
            return ids
        if max_length < 2:
            raise ConfigError(f"max_length={max_length}: [CLS] and [SEP] need at least 2")
        return [*ids[: max_length - 1], self._sep]

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of ``text``, ``[CLS]`` first and ``[SEP]`` last."""
        tokens: list[str] = self._hf.encode(text).tokens
        return tokens

    def encode(self, text: str, *, max_length: int | None = None) -> list[int]:
        return self._cut(list(self._hf.encode(text).ids), max_length)

    def encode_batch(
        self, texts: Sequence[str], *, max_length: int | None = None
    ) -> list[list[int]]:
        encoded = self._hf.encode_batch([str(t) for t in texts])
        return [self._cut(list(e.ids), max_length) for e in encoded]

    def index(self, token: str) -> int:
        return self._index.get(token, self._unk)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self._tokens[i] for i in ids]

    def unknown_rate(self, texts: Iterable[str]) -> float:
        """Share of the word pieces (``[CLS]``/``[SEP]`` not counted) that are ``[UNK]``."""
        total = unknown = 0
        for ids in self.encode_batch(list(texts)):
            total += max(0, len(ids) - 2)
            unknown += ids.count(self._unk)
        return unknown / total if total else 0.0

    def tokenizer_json(self, *, max_length: int | None = None) -> str:
        """``tokenizer.json`` truncating to ``max_length`` and padding each batch with 0
        to its longest text (for runtimes that read Hugging Face tokenizers)."""
        tokenizer = _tokenizers().Tokenizer.from_str(self._json)
        tokenizer.no_truncation()
        if max_length is not None:
            tokenizer.enable_truncation(max_length)
        tokenizer.enable_padding(pad_id=0, pad_token=self._tokens[0])
        text: str = tokenizer.to_str()
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": _SCHEMA_VERSION,
            "kind": KIND,
            "name": self.name,
            "lowercase": True,
            "tokens": list(self._tokens),
            "tokenizer": json.loads(self._json),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WordPieceVocabulary:
        if not isinstance(d, dict) or not isinstance(d.get("tokenizer"), dict):
            raise DataError(
                "a saved WordPiece vocabulary must hold its 'tokenizer' (tokenizer.json); "
                "re-save the model"
            )
        version = d.get("schema_version", _SCHEMA_VERSION)
        if version != _SCHEMA_VERSION:
            raise DataError(
                f"saved WordPiece vocabulary has schema_version {version}, this neuroplast "
                f"reads {_SCHEMA_VERSION}; upgrade neuroplast"
            )
        try:
            vocab = cls(json.dumps(d["tokenizer"]), name=str(d.get("name", "")))
        except Exception as e:  # tokenizers raises a bare Exception on a bad file
            if isinstance(e, DataError | ConfigError):
                raise
            raise DataError(f"the saved tokenizer cannot be read: {e}") from e
        if d.get("tokens") != vocab._tokens:
            raise DataError("vocab.json's 'tokens' differ from its tokenizer's; re-save it")
        return vocab

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WordPieceVocabulary):
            return NotImplemented
        return self._canonical == other._canonical

    __hash__ = None

    def __repr__(self) -> str:
        return f"WordPieceVocabulary({self.name or 'unnamed'}, size={len(self)})"
