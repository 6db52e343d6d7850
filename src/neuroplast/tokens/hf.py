"""A :class:`~neuroplast.tokens.Vocabulary` as a Hugging Face ``tokenizers`` file.

An exported text model's ONNX graph takes token ids; ``tokenizer.json`` beside it lets any
runtime that reads Hugging Face tokenizers (the Rust, Python and JavaScript ``tokenizers``,
Triton's and ONNX Runtime Extensions' loaders) turn text into the same ids as neuroplast:

>>> from tokenizers import Tokenizer  # doctest: +SKIP
>>> Tokenizer.from_str(hf_tokenizer_json(vocab, max_length=64)).encode("a witty film").ids

The file holds a ``WordLevel`` model (``<unk>`` for unknown tokens), a normalizer and a
pre-tokenizer that redo :class:`~neuroplast.tokens.Tokenizer`, truncation to the model's
``max_length`` and padding with id 0 to the longest text of a batch.

Exactness: neuroplast's character classes (``str.isalnum``, ``str.isspace``) are written
into the split pattern as explicit code point ranges, so Oniguruma's own idea of a word
character does not matter. The Unicode tables differ between this Python and the Rust
crates ``tokenizers`` is built with; every single code point whose normalisation differs
is measured when the file is built and replaced by Python's result first (the modifier
letters and digits whose NFKC mappings came after the crate's tables). What stays
different, listed by :func:`known_differences`: code points this Python does not know that
newer Rust lower-cases (they reach the vocabulary only as single-character tokens, almost
never kept), and the Greek final sigma, which Python lower-cases by its context and
``tokenizers`` does not (``ΟΔΟΣ`` gives ``οδος`` here and ``οδοσ`` there).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import Any

from neuroplast.errors import ConfigError
from neuroplast.tokens.tokenizer import Tokenizer
from neuroplast.tokens.vocab import Vocabulary

__all__ = ["TOKENIZER", "hf_tokenizer", "hf_tokenizer_json", "known_differences"]

logger = logging.getLogger(__name__)

#: The file name of the tokenizer beside ``model.onnx``.
TOKENIZER = "tokenizer.json"
_APOSTROPHES = "\u2019\u2018\u02bc\uff07"
_MAX_CODE_POINT = 0x10FFFF
#: Case-ignorable characters (apostrophes, marks) between a cased letter and a final sigma.
_IGNORABLE_RUN = 3


def _tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError as e:
        raise ConfigError(
            "writing tokenizer.json needs Hugging Face tokenizers: pip install "
            "'tokenizers>=0.20' (or neuroplast[serve])"
        ) from e
    return tokenizers


def _code_points() -> range:
    return range(_MAX_CODE_POINT + 1)


def _is_surrogate(cp: int) -> bool:
    return 0xD800 <= cp <= 0xDFFF


def _ranges(predicate: Callable[[str], bool]) -> list[tuple[int, int]]:
    """The code point ranges (inclusive) where ``predicate`` holds."""
    out: list[tuple[int, int]] = []
    start = None
    for cp in _code_points():
        ok = not _is_surrogate(cp) and predicate(chr(cp))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, _MAX_CODE_POINT))
    return out


def _char_class(ranges: list[tuple[int, int]]) -> str:
    """The body of an Oniguruma character class matching ``ranges``."""
    return "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)


@cache
def _split_pattern() -> str:
    """neuroplast's token pattern, ``[^\\W_]+(?:'[^\\W_]+)*|[^\\w\\s]|_``, with Python's
    ``\\w`` (alphanumerics and ``_``) and ``\\s`` spelled out as code point ranges."""
    alnum = _char_class(_ranges(str.isalnum))
    space = _char_class(_ranges(str.isspace))
    return f"[{alnum}]+(?:'[{alnum}]+)*|[^{alnum}{space}]"


def _final_sigma(char: str) -> bool:
    return (char + "\u03a3").lower().endswith("\u03c2")


@cache
def _final_sigma_pattern() -> str:
    """Where Python lower-cases a capital sigma to the final form: after a cased letter and
    any case-ignorable characters (up to :data:`_IGNORABLE_RUN` of them here: a lookbehind
    has a bounded length), and not before case-ignorable characters and a cased letter.
    Python's own ``lower`` serves as the oracle of both properties."""
    cased = _char_class(_ranges(_final_sigma))  # cased, not case-ignorable
    ignorable = _char_class(
        _ranges(lambda c: not _final_sigma(c) and ("A" + c + "\u03a3").lower().endswith("\u03c2"))
    )
    before = "|".join(f"[{cased}]" + f"[{ignorable}]" * n for n in range(_IGNORABLE_RUN + 1))
    # the sigma first: Oniguruma then looks for it before trying the lookbehind (10x faster)
    return f"\u03a3(?<=(?:{before})\u03a3)(?![{ignorable}]*[{cased}])"


def _base_normalizers(lowercase: bool) -> list[Any]:
    tokenizers = _tokenizers()
    normalizers = tokenizers.normalizers
    steps = [normalizers.Replace(tokenizers.Regex(f"[{_APOSTROPHES}]"), "'"), normalizers.NFKC()]
    if lowercase:
        sigma = tokenizers.Regex(_final_sigma_pattern())
        steps += [normalizers.Replace(sigma, "\u03c2"), normalizers.Lowercase()]
    return steps


@cache
def _fixups(lowercase: bool) -> tuple[dict[str, str], tuple[str, ...]]:
    """Per code point: Python's normalisation where ``tokenizers`` differs and replacing
    the character first repairs it (grouped by result), and the characters that cannot be
    repaired that way."""
    normalizers = _tokenizers().normalizers
    base = normalizers.Sequence(_base_normalizers(lowercase))
    python = Tokenizer(lowercase=lowercase)
    repaired: dict[str, str] = {}
    broken: list[str] = []
    for cp in _code_points():
        if _is_surrogate(cp):
            continue
        char = chr(cp)
        wanted = python.normalize(char)
        if base.normalize_str(char) == wanted:
            continue
        if base.normalize_str(wanted) == wanted:
            repaired[char] = wanted
        else:
            broken.append(char)
    return repaired, tuple(broken)


def known_differences(lowercase: bool = True) -> tuple[str, ...]:
    """The single characters ``tokenizers`` normalises differently from this Python even
    with the repairs of :func:`hf_tokenizer` (code points newer than this Python's Unicode
    tables, which the Rust side lower-cases)."""
    return _fixups(lowercase)[1]


def _normalizer(lowercase: bool) -> Any:
    # one literal Replace per repaired character: as fast as a character class per result
    # would be slow (Oniguruma scans every pass), about 2x the cost of NFKC + Lowercase
    tokenizers = _tokenizers()
    repaired, _ = _fixups(lowercase)
    replacements = [tokenizers.normalizers.Replace(c, r) for c, r in sorted(repaired.items())]
    first, *rest = _base_normalizers(lowercase)
    return tokenizers.normalizers.Sequence([first, *replacements, *rest])


def hf_tokenizer(vocab: Vocabulary, *, max_length: int | None = None) -> Any:
    """A ``tokenizers.Tokenizer`` that gives ``vocab.encode(text, max_length=max_length)``
    for every text (see the module doc for the known exceptions), padding a batch with
    ``vocab.pad_index`` to its longest text."""
    if max_length is not None and max_length < 1:
        raise ConfigError(f"max_length must be at least 1 (or None), got {max_length}")
    tokenizers = _tokenizers()
    tokens = vocab.tokens
    model = tokenizers.models.WordLevel(
        {token: i for i, token in enumerate(tokens)}, unk_token=tokens[vocab.unk_index]
    )
    tokenizer = tokenizers.Tokenizer(model)
    tokenizer.normalizer = _normalizer(vocab.lowercase)
    # invert: the pattern's matches are the tokens; the gaps between them (whitespace) go
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Split(
        tokenizers.Regex(_split_pattern()), behavior="removed", invert=True
    )
    if max_length is not None:
        tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(pad_id=vocab.pad_index, pad_token=tokens[vocab.pad_index])
    broken = set(known_differences(vocab.lowercase))
    held = [t for t in tokens if broken.intersection(t)]
    if held:
        logger.warning(
            "tokenizer.json: %d vocabulary tokens hold characters newer than this Python's "
            "Unicode tables (%r...); Hugging Face tokenizers may map them differently",
            len(held),
            held[:3],
        )
    return tokenizer


def hf_tokenizer_json(vocab: Vocabulary, *, max_length: int | None = None) -> str:
    """The ``tokenizer.json`` text of :func:`hf_tokenizer` (load it with
    ``tokenizers.Tokenizer.from_str`` or ``from_file``)."""
    text: str = hf_tokenizer(vocab, max_length=max_length).to_str()
    return text
