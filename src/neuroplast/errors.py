"""One exception hierarchy with messages written for the person at the keyboard.

Every error says what was wrong, where, and how to fix it. The CLI prints
``str(error)`` on one line and exits non-zero; library callers catch
:class:`NeuroplastError` (or a child) and never a bare ``Exception``.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "DatasetNotInstalledError",
    "ModelNotFoundError",
    "NeuroplastError",
    "RegistryError",
    "TrainingError",
]


class NeuroplastError(Exception):
    """Base class of every error neuroplast raises on purpose."""

    exit_code: int = 1


class ConfigError(NeuroplastError):
    """A configuration value or key is wrong (unknown key, bad type, bad range)."""

    exit_code = 2


class DataError(NeuroplastError):
    """Input data cannot be used: missing file or column, bad encoding, one class..."""

    exit_code = 3


class DatasetNotInstalledError(DataError):
    """A built-in data set's package is not installed; the message names the install command."""


class ModelNotFoundError(NeuroplastError):
    """No model or version matches the name or id that was given."""

    exit_code = 4


class RegistryError(NeuroplastError):
    """The registry database cannot be opened or written."""

    exit_code = 5


class ArtifactError(RegistryError):
    """An artifact file is missing, truncated or does not match its recorded hash."""


class TrainingError(NeuroplastError):
    """Training cannot start or continue (for example: nothing to resume)."""

    exit_code = 6
