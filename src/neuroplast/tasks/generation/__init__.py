"""Text generation (``task: generation``): language models on a text file or Debian's
fortunes, with character or byte-level BPE tokens.

- data: documents from a text file (split at boundary lines) or the fortunes package,
  train / val / test by document (:mod:`.corpus`, :mod:`.data`);
- tokens: characters or a BPE of the ``tokenizers`` library (:mod:`.tokenizer`);
- models: an LSTM and a GPT-style decoder with causal masking, tied weights, learned or
  sinusoidal positions and a KV cache (:mod:`.models`); the GPT's decoder step as ONNX
  (:mod:`.onnx_step`);
- sampling with temperature, top-k, top-p and a seed (:mod:`.sampling`);
- perplexity beside an interpolated Kneser-Ney n-gram baseline (:mod:`.perplexity`,
  :mod:`.ngram`).

Importing this package loads no torch: :func:`handler` is what
:func:`neuroplast.tasks.task_handler` calls.
"""

from __future__ import annotations

from neuroplast.tasks.generation.config import GenerationConfig, SamplingConfig
from neuroplast.tasks.generation.handler import GenerationHandler

__all__ = ["GenerationConfig", "GenerationHandler", "SamplingConfig", "handler"]


def handler() -> GenerationHandler:
    """The generation task's :class:`~neuroplast.tasks.TaskHandler`."""
    return GenerationHandler()
