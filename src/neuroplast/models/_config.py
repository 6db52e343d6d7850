"""Typed configuration shared by every architecture.

Each architecture declares a frozen pydantic model that rejects unknown keys. The fields are
the keys a user writes in YAML or passes to :func:`neuroplast.models.create_model`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

__all__ = ["ArchConfig", "FilterSizes", "TextArchConfig"]

#: Convolution widths or channel counts: a tuple (the config is frozen); lists are accepted.
FilterSizes = tuple[PositiveInt, ...]


class ArchConfig(BaseModel):
    """Base of every architecture's configuration: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_classes: int = Field(ge=2, description="Number of output classes (logits per input).")


class TextArchConfig(ArchConfig):
    """Keys shared by the text architectures, whose inputs are token ids padded with 0."""

    vocab_size: int = Field(
        ge=3, description="Size of the vocabulary, padding id 0 included; ids must be below it."
    )
    embedding_dim: int = Field(default=128, ge=1, description="Width of the token embeddings.")
