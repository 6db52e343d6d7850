"""End-to-end workflows that compose data, models, training, evaluation and the registry.

Names load on first use, so importing one submodule (``workflows.register``, which every
task's registration uses) does not import training and torchmetrics with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from neuroplast.data.prepare import PreparedData, as_test_set, load_source, prepare
    from neuroplast.workflows.report import (
        EvaluationReport,
        evaluate_and_record,
        evaluate_registered,
        load_registered,
    )
    from neuroplast.workflows.train import TrainOutcome, complete_arch_config, train_from_config

__all__ = [
    "EvaluationReport",
    "PreparedData",
    "TrainOutcome",
    "as_test_set",
    "complete_arch_config",
    "evaluate_and_record",
    "evaluate_registered",
    "load_registered",
    "load_source",
    "prepare",
    "train_from_config",
]

_HOMES = {
    "EvaluationReport": "neuroplast.workflows.report",
    "PreparedData": "neuroplast.data.prepare",
    "TrainOutcome": "neuroplast.workflows.train",
    "as_test_set": "neuroplast.data.prepare",
    "complete_arch_config": "neuroplast.workflows.train",
    "evaluate_and_record": "neuroplast.workflows.report",
    "evaluate_registered": "neuroplast.workflows.report",
    "load_registered": "neuroplast.workflows.report",
    "load_source": "neuroplast.data.prepare",
    "prepare": "neuroplast.data.prepare",
    "train_from_config": "neuroplast.workflows.train",
}

__getattr__, __dir__ = _lazy_exports(__name__, _HOMES, __all__)
