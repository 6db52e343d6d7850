"""The word-level tokenizer (defined in :mod:`neuroplast.tokens.tokenizer`, torch-free)."""

from neuroplast.tokens.tokenizer import Tokenizer

__all__ = ["Tokenizer"]
