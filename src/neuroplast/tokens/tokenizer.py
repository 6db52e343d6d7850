"""A fast, Unicode-aware word-level tokenizer.

A token is a run of letters and digits, optionally joined by apostrophes (``don't``,
``rock'n'roll``), or a single punctuation character. Curly apostrophes are folded into ``'``
and non-ASCII text is NFKC-normalised, so ``don't`` written with a curly apostrophe (U+2019)
gives the same token as with a straight one.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["Tokenizer"]

_TOKEN_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})


class Tokenizer:
    """Split text into word and punctuation tokens, lower-cased unless ``lowercase=False``."""

    def __init__(self, *, lowercase: bool = True) -> None:
        self.lowercase = lowercase

    def normalize(self, text: str) -> str:
        """The text the tokens are cut from (case folding, apostrophes, NFKC)."""
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text.translate(_APOSTROPHES))
        return text.lower() if self.lowercase else text

    def tokenize(self, text: str) -> list[str]:
        return _TOKEN_RE.findall(self.normalize(text))

    def __repr__(self) -> str:
        return f"Tokenizer(lowercase={self.lowercase})"
