"""What one model name may hold: one modality and one kind of model, so that its versions
are served, evaluated, compared and A/B-tested as one."""

from __future__ import annotations

from neuroplast.errors import RegistryError

__all__ = ["check_same_kind"]

#: Tasks whose versions are not classifiers; every other task name (``sentiment_analysis``,
#: ``image_classification``, ...) is one kind, classification, and may share a name.
_OTHER_KINDS = frozenset(
    {"anomaly_detection", "forecasting", "generation", "image_generation", "search"}
)


def _kind(task: str | None) -> str:
    return task if task in _OTHER_KINDS else "classification"


def check_same_kind(
    name: str, held: tuple[str, str], task: str | None, modality: str | None = None
) -> None:
    """Refuse a model of ``task`` (and ``modality``, when known) under ``name``, whose
    versions are ``held`` = (modality, task)."""
    held_modality, held_task = held
    if modality is not None and held_modality != modality:
        raise RegistryError(
            f"model {name!r} holds {held_modality} models; this one is {modality}: "
            "choose another name"
        )
    if _kind(held_task) != _kind(task):
        raise RegistryError(
            f"model {name!r} holds {_kind(held_task)} models; this one is {_kind(task)}: choose "
            "another name (a name's versions are served, evaluated and compared as one kind)"
        )
