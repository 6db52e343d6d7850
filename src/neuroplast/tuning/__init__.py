"""Hyperparameter search on Optuna: ``neuroplast tune`` and ``neuroplast tune status``.

Optuna is imported on first use (``pip install 'neuroplast[tune]'``); importing this
package imports neither it nor torch.
"""

from neuroplast._lazy import lazy_exports

_HOMES = {
    "DEFAULT_SPACES": "neuroplast.tuning.space",
    "SearchSpace": "neuroplast.tuning.space",
    "default_space": "neuroplast.tuning.space",
    "load_space": "neuroplast.tuning.space",
    "StorageSpec": "neuroplast.tuning.storage",
    "resolve_storage": "neuroplast.tuning.storage",
    "PruningCallback": "neuroplast.tuning.trial",
    "TuneOutcome": "neuroplast.tuning.study",
    "TuneSettings": "neuroplast.tuning.study",
    "run_tune": "neuroplast.tuning.study",
    "StudyStatus": "neuroplast.tuning.status",
    "study_status": "neuroplast.tuning.status",
}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
