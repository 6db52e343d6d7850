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
character does not matter, and Python's final sigma (``ΟΔΟΣ`` -> ``οδος``; ``tokenizers``
lower-cases letter by letter) is a Replace before the Lowercase step, its context classes
taken from Python's own ``lower``. The Unicode tables differ between this Python and the
Rust crates ``tokenizers`` is built with: every single code point whose normalisation
differs is found when the file is built (5-10 s here, once per process) and replaced by
Python's result first (modifier letters, digits and a square era name whose NFKC mappings
came after the crate's tables). What stays different: code points this Python does not
know that newer Rust lower-cases (:func:`known_differences`; they reach a vocabulary only
as single-character tokens), runs of two or more combining marks that NFKC reorders by
classes the crate's tables lack (marks newer than them), and a final sigma behind more than
three case-ignorable characters. On all 12,752 Rotten Tomatoes reviews the ids are the
same; on strings of random code points from U+0020-U+2FFF, about 0.3 % differ, each for the
second reason (``tests/tokens/test_hf_tokenizer.py``).
"""

from __future__ import annotations

import logging
import unicodedata
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
#: General categories without case properties (unassigned, private use, surrogates).
_NO_CASE = frozenset({"Cn", "Co", "Cs"})


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


def _members(predicate: Callable[[list[str]], list[bool]]) -> list[tuple[int, int]]:
    """The code point ranges (inclusive) where ``predicate``, given all assigned code
    points at once (unassigned and private-use ones have no case properties) and answering
    for each, holds."""
    cps = [cp for cp in _code_points() if unicodedata.category(chr(cp)) not in _NO_CASE]
    out: list[tuple[int, int]] = []
    for cp, ok in zip(cps, predicate([chr(cp) for cp in cps]), strict=True):
        if not ok:
            continue
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def _final_sigmas(prefix: str, chars: list[str]) -> list[bool]:
    """For each character ``c``, whether Python lower-cases ``prefix + c + "Σ"`` to a
    final sigma: all in one call, one per line (a line break is neither cased nor
    case-ignorable, so it ends the context)."""
    sigma, final = "\u03a3", "\u03c2"
    lines = "\n".join(prefix + c + sigma for c in chars).lower().split("\n")
    if len(lines) != len(chars):  # pragma: no cover - no lower-case mapping adds a line
        lines = [(prefix + c + sigma).lower() for c in chars]
    return [line.endswith(final) for line in lines]


@cache
def _final_sigma_pattern() -> str:
    """Where Python lower-cases a capital sigma to the final form: after a cased letter and
    any case-ignorable characters (up to :data:`_IGNORABLE_RUN` of them here: a lookbehind
    has a bounded length), and not before case-ignorable characters and a cased letter.
    Python's own ``lower`` serves as the oracle of both properties: ``c + "Σ"`` ends in a
    final sigma when ``c`` is cased (and not case-ignorable), ``"A" + c + "Σ"`` also when
    ``c`` is case-ignorable."""
    cased = _char_class(_members(lambda chars: _final_sigmas("", chars)))

    def ignorable(chars: list[str]) -> list[bool]:
        alone, after_a = _final_sigmas("", chars), _final_sigmas("A", chars)
        return [b and not a for a, b in zip(alone, after_a, strict=True)]

    skipped = _char_class(_members(ignorable))
    before = "|".join(f"[{cased}]" + f"[{skipped}]" * n for n in range(_IGNORABLE_RUN + 1))
    # the sigma first: Oniguruma then looks for it before trying the lookbehind (10x faster)
    return f"\u03a3(?<=(?:{before})\u03a3)(?![{skipped}]*[{cased}])"


def _base_normalizers(lowercase: bool) -> list[Any]:
    tokenizers = _tokenizers()
    normalizers = tokenizers.normalizers
    steps = [normalizers.Replace(tokenizers.Regex(f"[{_APOSTROPHES}]"), "'"), normalizers.NFKC()]
    if lowercase:
        sigma = tokenizers.Regex(_final_sigma_pattern())
        steps += [normalizers.Replace(sigma, "\u03c2"), normalizers.Lowercase()]
    return steps


def _differing(base: Any, python: Tokenizer) -> list[str]:
    """The characters whose normalisation by ``base`` differs from ``python``'s, found in
    one call each: every non-ASCII code point on a line of its own (a line break composes
    with nothing and is neither cased nor case-ignorable, so each line is normalised as
    if alone; ASCII is checked one by one, the line break among it)."""
    chars = [chr(cp) for cp in _code_points() if cp >= 0x80 and not _is_surrogate(cp)]
    theirs = base.normalize_str("\n".join(chars)).split("\n")
    ours = python.normalize("\n".join(chars)).split("\n")
    if len(theirs) != len(chars) or len(ours) != len(chars):  # a line break appeared
        theirs = [base.normalize_str(c) for c in chars]
        ours = [python.normalize(c) for c in chars]
    ascii_chars = [chr(cp) for cp in range(0x80)]
    differ = [c for c in ascii_chars if base.normalize_str(c) != python.normalize(c)]
    return differ + [c for c, a, b in zip(chars, theirs, ours, strict=True) if a != b]


@cache
def _fixups(lowercase: bool) -> tuple[dict[str, str], tuple[str, ...]]:
    """Per code point: Python's normalisation where ``tokenizers`` differs and replacing
    the character first repairs it, and the characters that cannot be repaired that way."""
    base = _tokenizers().normalizers.Sequence(_base_normalizers(lowercase))
    python = Tokenizer(lowercase=lowercase)
    repaired: dict[str, str] = {}
    broken: list[str] = []
    for char in _differing(base, python):
        wanted = python.normalize(char)
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
    # one literal Replace per repaired character (a regex class per result measured 3x
    # slower); together they cost about as much as NFKC + Lowercase + the split
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
    own = getattr(vocab, "tokenizer_json", None)  # a pretrained encoder's real tokenizer
    if callable(own):
        return str(own(max_length=max_length))
    text: str = hf_tokenizer(vocab, max_length=max_length).to_str()
    return text
