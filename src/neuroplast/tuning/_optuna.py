"""Optuna, imported on first use with an install hint (the ``tune`` extra)."""

from __future__ import annotations

import logging
from types import ModuleType

from neuroplast.errors import ConfigError

__all__ = ["HINT", "require_optuna"]

HINT = "pip install 'neuroplast[tune]'"


def require_optuna() -> ModuleType:
    """``import optuna`` (its per-trial INFO lines quietened), or a :class:`ConfigError`."""
    try:
        import optuna
    except ImportError as e:
        raise ConfigError(f"tuning needs optuna, which is not installed: `{HINT}`") from e
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").propagate = True
    return optuna
