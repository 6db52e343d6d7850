"""Tokenizer and vocabulary, with no dependency beyond the standard library.

They live outside :mod:`neuroplast.data` so that a serving process (the ONNX Runtime
predictor) can encode text without importing pandas, PIL or torch;
``neuroplast.data.Tokenizer`` and ``neuroplast.data.Vocabulary`` are the same classes.
"""

from neuroplast.tokens.tokenizer import Tokenizer
from neuroplast.tokens.vocab import Vocabulary

__all__ = ["Tokenizer", "Vocabulary"]
