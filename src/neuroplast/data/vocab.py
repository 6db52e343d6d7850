"""The token vocabulary (defined in :mod:`neuroplast.tokens.vocab`, torch-free)."""

from neuroplast.tokens.vocab import Vocabulary

__all__ = ["Vocabulary"]
