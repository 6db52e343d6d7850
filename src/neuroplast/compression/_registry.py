"""The registry of compression techniques: a technique is a class registered by name.

>>> from neuroplast.compression import list_techniques
>>> list_techniques()
('dynamic', 'static', 'prune', 'distill')

A technique is one file in :mod:`neuroplast.compression.techniques` holding one class
decorated with :func:`register_technique` (and its options, a :class:`TechniqueOptions`
model); every file there is imported when the registry is first read, so that adding one
edits nothing else: ``ModelOptimizer.compress(model, techniques={"NAME": {...}})`` runs it,
``--all`` includes it (unless registered with ``in_all=False``) and ``--quantize NAME``
takes it when it is a quantization. Its verb, :meth:`CompressionTechnique.candidates`,
turns the :class:`CompressJob` (the parent version, its model and data) into measured
candidates; the optimizer measures them all in one table and registers them.

Importing this module and the technique files imports no torch (they import it inside their
verbs), so that CLI helps can list the techniques without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.compression.candidate import Candidate
    from neuroplast.data.prepare import PreparedData
    from neuroplast.inference.bundle import LoadedModel
    from neuroplast.inference.inputs import SplitInputs
    from neuroplast.registry import Registry, VersionRecord

__all__ = [
    "CompressJob",
    "CompressionTechnique",
    "TechniqueOptions",
    "get_technique",
    "list_techniques",
    "register_technique",
    "techniques_help",
]


class TechniqueOptions(BaseModel):
    """A technique's options (none by default): keyword-only, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class CompressJob:
    """What every technique of one ``compress`` call works on: the parent ``version`` and
    its ``loaded`` model, the model's own splits (``data``; None for a model trained on the
    caller's loaders), the inputs the table measures (``test``), whether ``--all`` asked for
    every technique, and the ``notes`` shown with the table (techniques add theirs)."""

    registry: Registry
    version: VersionRecord
    loaded: LoadedModel
    data: PreparedData | None
    test: SplitInputs
    all_techniques: bool = False
    notes: list[str] = field(default_factory=list)


class CompressionTechnique:
    """Base class of a technique: override :meth:`candidates`, and :meth:`check` /
    :meth:`skipped` when it has something to say before the model loads or when ``--all``
    reaches a model it does not apply to. The class attributes are set by
    :func:`register_technique`."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    rank: ClassVar[int] = 100
    #: Whether ``--all`` runs it.
    in_all: ClassVar[bool] = True
    #: Whether ``--quantize NAME`` names it.
    quantization: ClassVar[bool] = False
    options: ClassVar[type[TechniqueOptions]] = TechniqueOptions

    def parse(self, options: Mapping[str, Any]) -> Any:
        """The typed options (a :class:`ConfigError` saying which key was wrong), checked."""
        try:
            parsed = self.options.model_validate(dict(options))
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'options'}: {err['msg']}" for err in e.errors()
            )
            takes = ", ".join(self.options.model_fields) or "no options"
            raise ConfigError(
                f"compression technique {self.name!r}: {problems} (it takes {takes})"
            ) from e
        self.check(parsed)
        return parsed

    def check(self, options: Any) -> None:
        """Raise a :class:`ConfigError` for options that cannot work (before the model
        loads)."""

    def skipped(self, job: CompressJob, options: Any) -> str | None:
        """Under ``--all``: the note saying why this technique does not apply to the job's
        model, or None when it does."""
        return None

    def candidates(self, job: CompressJob, options: Any) -> list[Candidate]:
        """The compressed models this technique makes of ``job.loaded``."""
        raise NotImplementedError(f"compression technique {self.name} makes no candidates")


_TECHNIQUES: dict[str, CompressionTechnique] = {}
_loaded = False


def register_technique(
    name: str,
    *,
    help: str,
    rank: int = 100,
    in_all: bool = True,
    quantization: bool = False,
    options: type[TechniqueOptions] = TechniqueOptions,
) -> Callable[[type[CompressionTechnique]], type[CompressionTechnique]]:
    """Class decorator: register ``cls`` as the technique ``name``. ``rank`` orders the
    listings and the table's rows; ``in_all=False`` keeps it out of ``--all``;
    ``quantization=True`` makes it a value of ``--quantize``; ``options`` is its options
    model."""

    def add(cls: type[CompressionTechnique]) -> type[CompressionTechnique]:
        if name in _TECHNIQUES:
            raise ValueError(f"compression technique {name!r} is already registered")
        cls.name, cls.help, cls.rank = name, help, rank
        cls.in_all, cls.quantization, cls.options = in_all, quantization, options
        _TECHNIQUES[name] = cls()
        return cls

    return add


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module("neuroplast.compression.techniques")


def list_techniques(*, quantization: bool | None = None) -> tuple[str, ...]:
    """Registered technique names in their listing order (``quantization=True``: the
    values of ``--quantize`` only)."""
    _load()
    chosen = [
        t for t in _TECHNIQUES.values() if quantization is None or t.quantization == quantization
    ]
    return tuple(t.name for t in sorted(chosen, key=lambda t: (t.rank, t.name)))


def get_technique(name: str) -> CompressionTechnique:
    """The technique ``name``; a :class:`ConfigError` naming the known ones when there is
    none."""
    _load()
    technique = _TECHNIQUES.get(name)
    if technique is None:
        raise ConfigError(
            f"unknown compression technique {name!r}; choose one of {', '.join(list_techniques())}"
        )
    return technique


def techniques_help() -> str:
    """One line for helps: ``name: what it does; ...``."""
    return "; ".join(f"{n}: {_TECHNIQUES[n].help}" for n in list_techniques())
