"""What a process other than rank 0 runs: the same data, model and loop, no registry."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from neuroplast.data.prepare import prepare
from neuroplast.models import get_spec
from neuroplast.training import Trainer
from neuroplast.workflows.train import _build_model, _loaders, _min_length

if TYPE_CHECKING:
    from lightning_fabric import Fabric

    from neuroplast.config import RunConfig

__all__ = ["train_replica"]

logger = logging.getLogger(__name__)


def train_replica(config: RunConfig, fabric: Fabric) -> None:
    """Prepare the data and build the model as rank 0 does (same seeds, so the same split,
    vocabulary and initial weights), then train this process's share of every batch. The
    checkpoint to resume from, if any, comes from rank 0 inside :meth:`Trainer.fit`."""
    own_vocabulary = getattr(get_spec(config.architecture).model_cls, "input_vocabulary", None)
    data = prepare(config.data, vocab=own_vocabulary() if own_vocabulary else None)
    model, arch_config = _build_model(config, data)
    train_loader, val_loader = _loaders(config, data, _min_length(arch_config))
    Trainer(config.train, fabric=fabric).fit(model, train_loader, val_loader)
    logger.info("rank %d finished training", fabric.global_rank)
