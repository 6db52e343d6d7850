"""The ``generation:`` section of a run config: tokens, corpus boundaries, baseline, sampling.

Strict like every section: an unknown key is an error that lists the accepted ones.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from neuroplast.errors import ConfigError

__all__ = [
    "ArchConfig",
    "GPTConfig",
    "GenerationConfig",
    "LSTMConfig",
    "SamplingConfig",
    "TokenizerKind",
    "validate_lm_config",
]

#: ``char``: one token per character seen in the training split; ``bpe``: byte-level BPE
#: trained with the ``tokenizers`` library on the training split.
TokenizerKind = Literal["char", "bpe"]


class SamplingConfig(BaseModel):
    """Defaults of ``neuroplast generate`` (each has a command-line option)."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(80, ge=1, le=100_000)
    temperature: float = Field(0.8, ge=0.0, description="0 = greedy")
    top_k: int | None = Field(40, ge=1, description="keep the k likeliest tokens; null = all")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="nucleus mass; null = off")


class GenerationConfig(BaseModel):
    """How text becomes a language-model stream and how the model is compared."""

    model_config = ConfigDict(extra="forbid")

    tokenizer: TokenizerKind = "char"
    vocab_size: int = Field(
        2048, ge=260, le=65536, description="bpe: merges stop at this many tokens"
    )
    max_chars: int = Field(
        512, ge=1, le=100_000, description="char: the most frequent characters kept"
    )
    document_separator: str = Field(
        "",
        description=(
            "a text file's documents end at a line equal to this (stripped); '' = a blank "
            "line, '%' = fortune files"
        ),
    )
    context: int = Field(128, ge=4, le=4096, description="tokens a model sees at once")
    epoch_windows: int | None = Field(
        None,
        ge=1,
        description=(
            "training windows drawn (seeded, without repeats) for each epoch; null = every "
            "window once. Shorter epochs for a fixed time budget"
        ),
    )
    max_minutes: float | None = Field(
        None,
        gt=0.0,
        description=(
            "a training time budget: stop after the epoch past which the next one (as long as "
            "the last) would not fit; null = no limit. The schedule still plans every epoch"
        ),
    )
    ngram_order: int = Field(5, ge=1, le=10, description="Kneser-Ney baseline order")
    export_onnx: bool = Field(True, description="gpt: also store the ONNX decoder step")
    init_from: str | None = Field(
        None,
        description=(
            "a registered version (name:N) of the same architecture and config to start "
            "from: its weights and tokenizer (to train in several shorter runs)"
        ),
    )
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)

    @model_validator(mode="after")
    def _check(self) -> GenerationConfig:
        if "\n" in self.document_separator:
            raise ValueError("document_separator is one line; it must not hold a newline")
        return self


class ArchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vocab_size: int = Field(ge=2, description="set from the tokenizer")
    dropout: float = Field(0.1, ge=0.0, lt=1.0)


class GPTConfig(ArchConfig):
    context: int = Field(128, ge=2, le=8192, description="positions the model attends over")
    d_model: int = Field(128, ge=8)
    n_layers: int = Field(4, ge=1, le=48)
    n_heads: int = Field(4, ge=1)
    positions: Literal["learned", "sinusoidal"] = "learned"

    @model_validator(mode="after")
    def _heads(self) -> GPTConfig:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not a multiple of n_heads={self.n_heads}")
        return self


class LSTMConfig(ArchConfig):
    embedding_dim: int = Field(256, ge=8)
    hidden_dim: int = Field(512, ge=8)
    num_layers: int = Field(2, ge=1, le=8)


#: The language-model architectures and their configs (the models are in ``models.py``).
ARCH_CONFIGS: dict[str, type[ArchConfig]] = {"gpt": GPTConfig, "lstm-lm": LSTMConfig}


def validate_lm_config(architecture: str, options: dict[str, Any]) -> ArchConfig:
    """The typed config of ``architecture``; :class:`ConfigError` naming the bad key."""
    cls = ARCH_CONFIGS.get(architecture)
    if cls is None:
        raise ConfigError(
            f"model.architecture={architecture!r} is not a language model; choose one of: "
            f"{', '.join(ARCH_CONFIGS)}"
        )
    try:
        return cls.model_validate(options)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, i['loc']))}: {i['msg']}" for i in e.errors())
        raise ConfigError(
            f"model ({architecture}): {problems} (accepted keys: {', '.join(cls.model_fields)})"
        ) from e
