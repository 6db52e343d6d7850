"""Continual strategies as plugins, looked up by name: ``create_plugins(["replay", "lwf"],
options)``. Plugins compose; ``naive`` and ``joint`` do not combine with others. Each
strategy registers itself with :func:`register_strategy` (see ``_registry.py``)."""

from __future__ import annotations

from neuroplast.continual.strategies._registry import (
    check_strategies,
    create_plugins,
    list_strategies,
    register_strategy,
)
from neuroplast.continual.strategies.base import Plugin
from neuroplast.continual.strategies.lwf import LwF, distillation_loss
from neuroplast.continual.strategies.regularization import (
    EWC,
    SI,
    OnlineEWC,
    ewc_penalty,
    fisher_information,
    normalise_fisher,
)
from neuroplast.continual.strategies.replay import ICaRL, Replay, ReplayBuffer, herding
from neuroplast.continual.strategies.simple import Joint, Naive

__all__ = [
    "EWC",
    "SI",
    "ICaRL",
    "Joint",
    "LwF",
    "Naive",
    "OnlineEWC",
    "Plugin",
    "Replay",
    "ReplayBuffer",
    "check_strategies",
    "create_plugins",
    "distillation_loss",
    "ewc_penalty",
    "fisher_information",
    "herding",
    "list_strategies",
    "normalise_fisher",
    "register_strategy",
]
