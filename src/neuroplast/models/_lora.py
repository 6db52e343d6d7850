"""LoRA adapters on a BERT encoder through ``peft``: options, injection, merge.

The adapters are injected into the ``BertModel`` in place (``peft.inject_adapter_in_model``),
so the classifier keeps its own structure and only the targeted ``nn.Linear`` layers become
``peft`` LoRA layers (``base_layer`` + ``lora_A`` / ``lora_B``). :func:`merge_lora` folds each
adapter into its base weight (``W + alpha / rank * B @ A``) and puts the plain ``nn.Linear``
back: the result is an ordinary BERT with no ``peft`` layer left.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from neuroplast.errors import ConfigError

__all__ = ["ADAPTER_MARK", "BERT_LINEAR_LAYERS", "LoraOptions", "inject_lora", "merge_lora"]

#: The ``nn.Linear`` layers of a BERT layer that LoRA can target (peft matches a name, or the
#: end of a module's dotted path: ``dense`` is every dense layer, ``output.dense`` both the
#: attention output's and the feed-forward output's).
BERT_LINEAR_LAYERS = (
    "query",
    "key",
    "value",
    "dense",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
#: What every LoRA tensor's name holds (``...query.lora_A.default.weight``).
ADAPTER_MARK = ".lora_"
_ADAPTER = "default"


class LoraOptions(BaseModel):
    """``model.lora`` of the ``minilm`` architecture (used with ``finetune: lora``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(default=8, ge=1, le=384, description="Rank of each adapter (r).")
    alpha: float = Field(
        default=16.0, gt=0.0, description="Scale numerator: updates are scaled by alpha/rank."
    )
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="Dropout on the adapters.")
    target_modules: tuple[str, ...] = Field(
        default=("query", "value"),
        min_length=1,
        description=f"BERT linear layers to adapt: any of {', '.join(BERT_LINEAR_LAYERS)}.",
    )

    @field_validator("target_modules")
    @classmethod
    def _known_layers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in BERT_LINEAR_LAYERS]
        if unknown:
            raise ValueError(
                f"unknown LoRA target module(s) {', '.join(map(repr, unknown))}; a BERT layer's "
                f"linear layers are {', '.join(BERT_LINEAR_LAYERS)}"
            )
        if len(set(value)) != len(value):
            raise ValueError("LoRA target modules are listed twice; name each once")
        return value


def _peft() -> Any:
    try:
        return importlib.import_module("peft")
    except ImportError as e:
        raise ConfigError(
            "model.finetune: lora needs peft: pip install 'neuroplast[encoders]'"
        ) from e


def inject_lora(encoder: nn.Module, options: LoraOptions) -> None:
    """Add LoRA adapters to ``encoder``'s targeted layers, in place; only they train."""
    peft = _peft()
    config = peft.LoraConfig(
        r=options.rank,
        lora_alpha=options.alpha,
        lora_dropout=options.dropout,
        target_modules=list(options.target_modules),
        bias="none",
    )
    peft.inject_adapter_in_model(config, encoder, adapter_name=_ADAPTER)
    for name, param in encoder.named_parameters():
        param.requires_grad_(ADAPTER_MARK in f".{name}")


def _lora_layers(encoder: nn.Module) -> list[tuple[str, Any]]:
    from peft.tuners.lora import LoraLayer

    return [(n, m) for n, m in encoder.named_modules() if isinstance(m, LoraLayer)]


def merge_lora(encoder: nn.Module) -> int:
    """Fold every adapter into its base layer and put the plain layer back, in place.
    Returns the number of layers merged."""
    layers = _lora_layers(encoder)
    for name, layer in layers:
        layer.merge(adapter_names=[_ADAPTER])
        parent_name, _, child = name.rpartition(".")
        parent = encoder.get_submodule(parent_name) if parent_name else encoder
        setattr(parent, child, layer.get_base_layer())
    return len(layers)
