"""The registry of Predictor backends: a backend is a class registered by name.

>>> from neuroplast.inference import list_backends
>>> list_backends()
('auto', 'torch', 'torch-int8', 'onnx', 'onnx-int8')

A backend is one file in :mod:`neuroplast.inference.backends` holding one class decorated
with :func:`register_backend`; every file there is imported when the registry is first read,
so that adding a backend edits nothing else: ``backend="NAME"`` builds it,
``backend="auto"`` measures it (unless registered with ``measured=False``) and the CLI helps
list it. ``"auto"`` is not a registered backend but the choice among them
(:func:`neuroplast.inference.create_predictor`).

Importing this module and the backend files imports no torch (they import it inside
``build``), so that ``neuroplast serve --help`` and the serving pool read the names without
it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.inference.base import BasePredictor
    from neuroplast.inference.bundle import LoadedModel

__all__ = [
    "AUTO",
    "BackendSource",
    "PredictorBackend",
    "backends_help",
    "check_backend",
    "get_backend",
    "list_backends",
    "register_backend",
]

#: The backend name that measures the registered ones and runs each batch on the fastest.
AUTO = "auto"
_AUTO_HELP = "measures the others on real inputs, runs each batch size on the fastest that agrees"

OnnxGraph = Literal["fp32", "int8"]


@dataclass
class BackendSource:
    """What a backend is built from: the loaded model, its ONNX graphs (a registered
    version's files, or exported and quantized in memory on first use and kept, so that
    building several backends of one model exports it once), ONNX Runtime's intra-op
    ``threads`` (default: the physical cores) and the largest batch a call runs at once."""

    loaded: LoadedModel
    onnx_model: bytes | None = None
    onnx_int8: bytes | None = None
    threads: int | None = None
    batch_size: int = 256

    def onnx(self, graph: OnnxGraph = "fp32") -> bytes:
        """The model's ONNX graph, fp32 or int8 (ONNX Runtime's dynamic quantization)."""
        if self.onnx_model is None:
            from neuroplast.inference.onnx_export import export_onnx_bytes

            self.onnx_model = export_onnx_bytes(self.loaded.model, self.loaded.meta)
        if graph == "fp32":
            return self.onnx_model
        if self.onnx_int8 is None:
            from neuroplast.inference.onnx_export import quantize_onnx_int8

            self.onnx_int8 = quantize_onnx_int8(self.onnx_model)
        return self.onnx_int8


class PredictorBackend:
    """Base class of a backend: override :meth:`build`. The class attributes are set by
    :func:`register_backend`."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    rank: ClassVar[int] = 100
    #: Whether ``auto`` measures it.
    measured: ClassVar[bool] = True
    #: The ONNX graph it runs (None: it runs the PyTorch model).
    onnx: ClassVar[OnnxGraph | None] = None

    def build(self, source: BackendSource) -> BasePredictor:
        """The Predictor of ``source.loaded`` on this backend."""
        raise NotImplementedError(f"backend {self.name} does not build a Predictor")


_BACKENDS: dict[str, PredictorBackend] = {}
_loaded = False


def register_backend(
    name: str,
    *,
    help: str,
    rank: int = 100,
    measured: bool = True,
    onnx: OnnxGraph | None = None,
) -> Callable[[type[PredictorBackend]], type[PredictorBackend]]:
    """Class decorator: register ``cls`` as the backend ``name``. ``rank`` orders the
    listings (and the order in which ``auto`` builds the backends); ``measured=False``
    keeps it out of ``auto``; ``onnx`` names the ONNX graph it runs."""

    def add(cls: type[PredictorBackend]) -> type[PredictorBackend]:
        if name == AUTO or name in _BACKENDS:
            raise ValueError(f"backend {name!r} is already registered")
        cls.name, cls.help, cls.rank, cls.measured, cls.onnx = name, help, rank, measured, onnx
        _BACKENDS[name] = cls()
        return cls

    return add


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module("neuroplast.inference.backends")


def list_backends(*, include_auto: bool = True) -> tuple[str, ...]:
    """The names ``backend=`` takes: ``"auto"`` first, then every registered backend in its
    listing order (``include_auto=False``: the registered ones only)."""
    _load()
    ranked = sorted(_BACKENDS.values(), key=lambda b: (b.rank, b.name))
    return ((AUTO,) if include_auto else ()) + tuple(b.name for b in ranked)


def check_backend(backend: str) -> str:
    """``backend`` when it is ``"auto"`` or registered; else a :class:`ConfigError` listing
    the known names."""
    known = list_backends()
    if backend not in known:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(known)}")
    return backend


def get_backend(name: str) -> PredictorBackend:
    """The registered backend ``name`` (``"auto"`` is not one: it chooses among them)."""
    check_backend(name)
    if name == AUTO:
        raise ConfigError("build_backend builds one backend; use create_predictor for 'auto'")
    return _BACKENDS[name]


def backends_help() -> str:
    """One line for ``--backend`` helps: ``name: what it is; ...``."""
    _load()
    lines = [f"{AUTO}: {_AUTO_HELP}"] + [
        f"{n}: {_BACKENDS[n].help}" for n in list_backends(include_auto=False)
    ]
    return "; ".join(lines)


def __getattr__(name: str) -> Any:
    """``BACKENDS``: what :func:`list_backends` returns (kept for older callers)."""
    if name == "BACKENDS":
        return list_backends()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
