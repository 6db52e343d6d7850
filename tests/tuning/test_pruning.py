"""The pruning callback asks the pruner only where it can stop a trial (each question reads
the study's trials from the storage), and a trial's seconds come from Optuna's own times."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from neuroplast.errors import ConfigError
from neuroplast.tuning.trial import FIRST_PRUNABLE_EPOCH, PruningCallback, trial_summary
from neuroplast.types import ModelMetrics


class CountingPruner(optuna.pruners.BasePruner):
    """Records the step of every question; prunes from ``prune_from`` on."""

    def __init__(self, prune_from: int | None = None) -> None:
        self.asked: list[int] = []
        self.prune_from = prune_from

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        assert step is not None
        self.asked.append(step)
        return self.prune_from is not None and step >= self.prune_from


def _epochs(callback: PruningCallback, count: int) -> None:
    for epoch in range(1, count + 1):
        callback.on_epoch_end(None, ModelMetrics(epoch=epoch, train_loss=1.0, val_accuracy=0.5))  # type: ignore[arg-type]


def _trial(pruner: optuna.pruners.BasePruner) -> tuple[optuna.Study, optuna.Trial]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(pruner=pruner, direction="maximize")
    return study, study.ask()


@pytest.mark.parametrize(("last_epoch", "asked"), [(5, [2, 3, 4]), (None, [2, 3, 4, 5]), (2, [])])
def test_the_pruner_is_asked_from_epoch_2_to_the_one_before_the_last(
    last_epoch: int | None, asked: list[int]
) -> None:
    pruner = CountingPruner()
    _, trial = _trial(pruner)
    _epochs(PruningCallback(trial, "val_accuracy", last_epoch=last_epoch), 5)
    assert FIRST_PRUNABLE_EPOCH == 2
    assert pruner.asked == asked
    # every epoch is still reported: tune status counts a trial's epochs from them
    frozen = trial.study._storage.get_trial(trial._trial_id)
    assert sorted(frozen.intermediate_values) == [1, 2, 3, 4, 5]


def test_a_pruned_trial_stops_at_the_first_epoch_the_pruner_says_so() -> None:
    _, trial = _trial(CountingPruner(prune_from=3))
    callback = PruningCallback(trial, "val_accuracy", last_epoch=6)
    with pytest.raises(optuna.TrialPruned, match=r"after epoch 3: val_accuracy=0\.5000"):
        _epochs(callback, 6)
    assert callback.pruned_at == 3


def test_a_metric_the_run_does_not_have_is_an_error() -> None:
    _, trial = _trial(CountingPruner())
    callback = PruningCallback(trial, "val_loss", last_epoch=3)
    with pytest.raises(ConfigError, match="no such metric after epoch 1"):
        _epochs(callback, 1)


def test_a_trials_seconds_are_its_recorded_duration() -> None:
    study, trial = _trial(CountingPruner())
    study.tell(trial, 0.75)
    (frozen,) = study.get_trials()
    summary: dict[str, Any] = trial_summary(frozen)
    assert frozen.duration is not None
    assert summary["seconds"] == round(frozen.duration.total_seconds(), 3)
    assert summary["state"] == "complete" and summary["value"] == 0.75
    running = study.ask()
    assert trial_summary(study.get_trials()[running.number])["seconds"] is None
