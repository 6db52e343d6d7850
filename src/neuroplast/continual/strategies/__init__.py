"""Continual strategies as plugins, looked up by name: ``create_plugins(["replay", "lwf"],
options)``. Plugins compose; ``naive`` and ``joint`` do not combine with others."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from neuroplast.continual.strategies.base import Plugin
from neuroplast.continual.strategies.lwf import LwF, distillation_loss
from neuroplast.continual.strategies.regularization import (
    EWC,
    SI,
    OnlineEWC,
    ewc_penalty,
    fisher_information,
)
from neuroplast.continual.strategies.replay import ICaRL, Replay, ReplayBuffer, herding
from neuroplast.continual.strategies.simple import Joint, Naive
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.continual.config import StrategyOptions

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
]


def _ewc(o: StrategyOptions, seed: int) -> Plugin:
    e = o.ewc
    return EWC(
        lambda_=e.lambda_,
        fisher_samples=e.fisher_samples,
        fisher_labels=e.fisher_labels,
        anchor=e.anchor,
    )


def _online(o: StrategyOptions, seed: int) -> Plugin:
    e = o.online_ewc
    return OnlineEWC(
        lambda_=e.lambda_,
        gamma=e.gamma,
        fisher_samples=e.fisher_samples,
        fisher_labels=e.fisher_labels,
    )


_FACTORIES: dict[str, Callable[[StrategyOptions, int], Plugin]] = {
    "naive": lambda o, s: Naive(),
    "joint": lambda o, s: Joint(),
    "ewc": _ewc,
    "online_ewc": _online,
    "si": lambda o, s: SI(c=o.si.c, xi=o.si.xi),
    "lwf": lambda o, s: LwF(
        temperature=o.lwf.temperature, alpha=o.lwf.alpha, softmax=o.lwf.softmax
    ),
    "replay": lambda o, s: Replay(
        buffer_size=o.replay.buffer_size,
        policy=o.replay.policy,
        batch_size=o.replay.batch_size,
        seed=s,
    ),
    "icarl": lambda o, s: ICaRL(
        buffer_size=o.icarl.buffer_size,
        selection=o.icarl.selection,
        loss=o.icarl.loss,
        train_on=o.icarl.train_on,
        distil_weight=o.icarl.distil_weight,
        seed=s,
    ),
}
_ALONE = ("naive", "joint")


def list_strategies() -> list[str]:
    return list(_FACTORIES)


def check_strategies(names: Sequence[str]) -> None:
    """Known names, no repeats, and ``naive`` / ``joint`` on their own."""
    if not names:
        raise ConfigError(f"name at least one strategy: {', '.join(_FACTORIES)}")
    unknown = [n for n in names if n not in _FACTORIES]
    if unknown:
        raise ConfigError(
            f"unknown strategy {unknown[0]!r}; choose from {', '.join(_FACTORIES)} "
            "(combine several with '+', e.g. replay+lwf)"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"strategy listed twice in {'+'.join(names)}")
    alone = [n for n in names if n in _ALONE]
    if alone and len(names) > 1:
        raise ConfigError(f"{alone[0]} is a baseline and does not combine with other strategies")


def create_plugins(names: Sequence[str], options: StrategyOptions, *, seed: int = 0) -> list[Any]:
    """One fresh plugin per name, configured from ``options``."""
    check_strategies(names)
    return [_FACTORIES[n](options, seed) for n in names]
