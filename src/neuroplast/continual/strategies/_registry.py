"""The registry of continual strategies: a strategy is a :class:`Plugin` class registered by
name with :func:`register_strategy`, built from its typed options by :func:`create_plugins`.

Every module of :mod:`neuroplast.continual.strategies` is imported when the registry is
first read, so that a new strategy is one new file holding one decorated class (plus, when it
takes options, its options model as a field of
:class:`~neuroplast.continual.config.StrategyOptions`, the YAML's schema).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.continual.config import StrategyOptions
    from neuroplast.continual.strategies.base import Plugin

__all__ = [
    "StrategySpec",
    "check_strategies",
    "create_plugins",
    "list_strategies",
    "register_strategy",
]


@dataclass(frozen=True)
class StrategySpec:
    name: str
    cls: type[Plugin]
    #: The field of ``StrategyOptions`` holding its options (None: it takes none).
    options: str | None
    #: A baseline that does not combine with other strategies.
    alone: bool

    def create(self, options: StrategyOptions, seed: int) -> Plugin:
        """The plugin, its constructor's keywords taken from its typed options (and the run's
        ``seed`` when it takes one)."""
        params = inspect.signature(self.cls.__init__).parameters
        values = dict(getattr(options, self.options)) if self.options is not None else {}
        kwargs = {k: v for k, v in values.items() if k in params}
        if "seed" in params:
            kwargs["seed"] = seed
        return self.cls(**kwargs)


_STRATEGIES: dict[str, StrategySpec] = {}
_loaded = False


def register_strategy(
    name: str, *, options: str | None = None, alone: bool = False
) -> Callable[[type[Plugin]], type[Plugin]]:
    """Class decorator: register a :class:`Plugin` subclass as the strategy ``name``."""

    def add(cls: type[Plugin]) -> type[Plugin]:
        if name in _STRATEGIES:
            raise ValueError(f"strategy {name!r} is already registered")
        cls.name = name
        _STRATEGIES[name] = StrategySpec(name, cls, options, alone)
        return cls

    return add


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        package = importlib.import_module("neuroplast.continual.strategies")
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{module.name}")
        # issue 18: the neuromorphic learner's name (its own learner, not a loop plugin)
        importlib.import_module("neuroplast.continual.neuromorphic.strategy")


def list_strategies() -> list[str]:
    _load()
    return list(_STRATEGIES)


def check_strategies(names: Sequence[str]) -> None:
    """Known names, no repeats, and baselines (``naive`` / ``joint``) on their own."""
    known = list_strategies()
    if not names:
        raise ConfigError(f"name at least one strategy: {', '.join(known)}")
    unknown = [n for n in names if n not in _STRATEGIES]
    if unknown:
        raise ConfigError(
            f"unknown strategy {unknown[0]!r}; choose from {', '.join(known)} "
            "(combine several with '+', e.g. replay+lwf)"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"strategy listed twice in {'+'.join(names)}")
    alone = [n for n in names if _STRATEGIES[n].alone]
    if alone and len(names) > 1:
        raise ConfigError(f"{alone[0]} is a baseline and does not combine with other strategies")


def create_plugins(
    names: Sequence[str], options: StrategyOptions, *, seed: int = 0
) -> list[Plugin]:
    """One fresh plugin per name, configured from ``options``."""
    check_strategies(names)
    return [_STRATEGIES[n].create(options, seed) for n in names]
