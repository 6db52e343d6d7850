"""End-to-end workflows that compose data, models, training, evaluation and the registry."""

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
