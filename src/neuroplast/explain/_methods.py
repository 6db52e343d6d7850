"""The registry of explanation methods: a method is a class registered by name.

>>> from neuroplast.explain import list_methods
>>> list_methods("text")
('ig', 'saliency', 'input_x_gradient', 'occlusion', 'attention')

Importing this module and the method files imports no torch (they import it inside their
verbs), so that the CLI builds its ``--method`` help from the registry and still starts
without torch. A method is one file in :mod:`neuroplast.explain.methods` holding one class decorated
with :func:`register_method`; every file there is imported when the registry is first
read, so that adding a method edits nothing else. The explainers look the method up
here (an unknown name is a :class:`ConfigError` listing the known ones) and call its
``text`` or ``image`` verb.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor

    from neuroplast.explain.image import ImageExplainer
    from neuroplast.explain.text import TextExplainer

__all__ = [
    "ExplainMethod",
    "Modality",
    "TextScores",
    "get_method",
    "is_signed",
    "list_methods",
    "methods_help",
    "register_method",
]

Modality = Literal["text", "image"]
_ARTICLE = {"text": "a text model", "image": "an image model"}


@dataclass(frozen=True)
class TextScores:
    """Per-token scores ``[B, T]`` of a batch; integrated gradients also give its
    completeness terms (the delta and ``f(x) - f(baseline)`` of each row)."""

    scores: Tensor
    deltas: Tensor | None = None
    gaps: Tensor | None = None


class ExplainMethod:
    """Base class of a method: override ``text`` and / or ``image`` (the modalities given
    to :func:`register_method`), and ``supports_*`` / ``check_*`` when only some models
    can use it."""

    name: ClassVar[str] = ""
    modalities: ClassVar[tuple[Modality, ...]] = ()
    signed: ClassVar[bool] = True
    help: ClassVar[str] = ""
    rank: ClassVar[int] = 100

    def text(self, explainer: TextExplainer, batch: Tensor, target: Tensor) -> TextScores:
        raise NotImplementedError(f"{self.name} does not explain texts")

    def image(self, explainer: ImageExplainer, x: Tensor, target: Tensor) -> Tensor:
        """Heat ``[B, H, W]`` of normalised inputs ``x[B, C, H, W]`` for ``target[B]``."""
        raise NotImplementedError(f"{self.name} does not explain images")

    def supports(self, explainer: TextExplainer | ImageExplainer) -> bool:
        """Whether this explainer's model can use the method (listed in its ``methods``)."""
        return True

    def check(self, explainer: TextExplainer | ImageExplainer) -> None:
        """Raise a :class:`ConfigError` saying why this model cannot use the method."""


_METHODS: dict[str, ExplainMethod] = {}
_loaded = False


def register_method(
    name: str, *, modalities: tuple[Modality, ...], signed: bool = True, rank: int = 100, help: str
) -> Callable[[type[ExplainMethod]], type[ExplainMethod]]:
    """Class decorator: register ``cls`` under ``name``. ``rank`` orders the listings;
    ``signed=False`` for scores where larger means more important and never "against"."""

    def add(cls: type[ExplainMethod]) -> type[ExplainMethod]:
        if name in _METHODS:
            raise ValueError(f"explanation method {name!r} is already registered")
        cls.name, cls.modalities, cls.signed, cls.rank, cls.help = (
            name,
            modalities,
            signed,
            rank,
            help,
        )
        _METHODS[name] = cls()
        return cls

    return add


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module("neuroplast.explain.methods")


def list_methods(modality: Modality | None = None) -> tuple[str, ...]:
    """Registered method names (of one modality), in their listing order."""
    _load()
    chosen = [m for m in _METHODS.values() if modality is None or modality in m.modalities]
    return tuple(m.name for m in sorted(chosen, key=lambda m: (m.rank, m.name)))


def get_method(
    name: str, modality: Modality, *, known: tuple[str, ...] | None = None
) -> ExplainMethod:
    """The method ``name`` for ``modality``; a :class:`ConfigError` naming the ``known``
    ones (default: every registered method of the modality) when there is none."""
    _load()
    method = _METHODS.get(name)
    if method is None or modality not in method.modalities:
        choices = known if known is not None else list_methods(modality)
        raise ConfigError(
            f"unknown method {name!r} for {_ARTICLE[modality]}; choose one of {', '.join(choices)}"
        )
    return method


def is_signed(name: str) -> bool:
    """Whether a method's scores have a sign (True for names that are not registered)."""
    _load()
    method = _METHODS.get(name)
    return True if method is None else method.signed


def methods_help(modality: Modality | None = None) -> str:
    """One line per method for ``--method`` helps: ``name: what it is``."""
    return "; ".join(f"{n}: {_METHODS[n].help}" for n in list_methods(modality))


def __getattr__(name: str) -> Any:
    """``TEXT_METHODS`` and ``IMAGE_METHODS``: the registered methods of each modality."""
    if name == "TEXT_METHODS":
        return list_methods("text")
    if name == "IMAGE_METHODS":
        return list_methods("image")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
