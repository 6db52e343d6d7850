"""What a compression technique makes: a :class:`Candidate`, measured in the table and
registered as a new version, and the helpers the techniques share (its size, the parent's
run config, a short fit on the one training loop).

A :class:`Candidate` holds the fp32 module the new version stores (int8 versions store
fp32 weights and are re-quantized, deterministically, when loaded), the predictor that
the table measures and the size of what would ship. Importing this module imports no torch.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.config import RunConfig, TrainConfig
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from neuroplast.data.prepare import PreparedData
    from neuroplast.inference.base import BasePredictor
    from neuroplast.inference.bundle import LoadedModel

__all__ = ["Candidate", "fit", "run_config_of", "state_bytes", "with_model"]


@dataclass
class Candidate:
    technique: str
    model: nn.Module
    predictor: BasePredictor
    size_bytes: int
    options: dict[str, Any] = field(default_factory=dict)
    meta_compression: dict[str, Any] = field(default_factory=dict)
    arch_config: dict[str, Any] | None = None
    source: str = "compress"
    metrics: dict[str, Any] = field(default_factory=dict)
    #: What the new version's bundle is written from (default: the parent's meta/vocab).
    loaded: LoadedModel | None = None
    #: Files stored beside the bundle (the int8 state of a static version).
    extra_files: dict[str, bytes] = field(default_factory=dict)
    #: Why it is measured for the comparison only and never registered (None: it may be).
    compared_only: str | None = None


def state_bytes(model: nn.Module) -> int:
    """Bytes of the model's state (int8 packed weights included), serialised in memory."""
    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def run_config_of(config: dict[str, Any]) -> RunConfig:
    """The run config a version was trained with (compression notes removed)."""
    clean = {k: v for k, v in config.items() if k != "compression"}
    try:
        return RunConfig.model_validate(clean)
    except ValueError as e:
        raise ConfigError(
            f"this version has no usable training config ({e}); it was trained through the "
            "Python API, so its data cannot be re-created for fine-tuning or distillation"
        ) from e


def with_model(loaded: LoadedModel, model: nn.Module) -> LoadedModel:
    """``loaded`` with another module (same meta and vocabulary)."""
    from neuroplast.inference.bundle import LoadedModel

    return LoadedModel(model=model, meta=loaded.meta, vocab=loaded.vocab)


def fit(
    model: nn.Module,
    data: PreparedData,
    train: TrainConfig,
    *,
    min_length: int,
    callbacks: list[Any],
) -> list[Any]:
    """Train ``model`` on ``data``'s train split with ``train`` (validated on its val
    split), keep its best weights and return the history."""
    from neuroplast.training import Trainer

    train_loader = data.loader(
        "train", batch_size=train.batch_size, shuffle=True, seed=train.seed, min_length=min_length
    )
    val_loader = data.loader(
        "val", batch_size=train.eval_batch_size, shuffle=False, min_length=min_length
    )
    with tempfile.TemporaryDirectory(prefix="neuroplast-compress-") as tmp:
        trainer = Trainer(train, callbacks=callbacks, checkpoint_dir=Path(tmp))
        history = trainer.fit(model, train_loader, val_loader)
        trainer.load_best_weights(model)
    model.eval()
    return history
