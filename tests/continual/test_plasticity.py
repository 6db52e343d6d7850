"""Every strategy learns each new task in every scenario (R[t][t] well above chance), and
EWC's penalty protects an old task on a long protocol, where the Fisher of a confidently
fit task has all but vanished."""

from __future__ import annotations

from typing import Any

import pytest

from neuroplast.continual import ContinualConfig, make_stream
from neuroplast.continual.config import StrategyOptions
from neuroplast.continual.metrics import chance_levels, unlearned_tasks
from neuroplast.continual.runner import run_strategy
from neuroplast.continual.strategies import LwF, list_strategies
from neuroplast.continual.streams import Stream

MODEL = {"architecture": "image_mlp", "hidden_dim": 64, "num_layers": 1, "dropout": 0.0}
STREAM = {"tasks": 3, "train_per_class": 60, "test_per_class": 30}
SCENARIOS = ("task", "domain", "class")


def _config(scenario: str, steps: int = 40) -> ContinualConfig:
    return ContinualConfig.model_validate(
        {
            "stream": {"scenario": scenario, **STREAM},
            "model": MODEL,
            "train": {"steps_per_task": steps, "batch_size": 32},
            "options": {"replay": {"buffer_size": 60}, "icarl": {"buffer_size": 60}},
        }
    )


@pytest.fixture(scope="module")
def streams() -> dict[str, Stream]:
    return {s: make_stream(_config(s).stream) for s in SCENARIOS}


def test_chance_levels_follow_the_scenario(streams: dict[str, Stream]) -> None:
    assert chance_levels(streams["task"]) == [0.5, 0.5, 0.5]
    assert chance_levels(streams["domain"]) == [0.5, 0.5, 0.5]
    assert chance_levels(streams["class"]) == pytest.approx([1 / 2, 1 / 4, 1 / 6])
    # 75 % of two classes, 62.5 % of four, 58.3 % of six
    matrix = [[0.9, 0, 0], [0, 0.62, 0], [0, 0, 0.59]]
    assert unlearned_tasks(matrix, streams["class"]) == [2]


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_strategy_learns_each_new_task(scenario: str, streams: dict[str, Stream]) -> None:
    """Each registered strategy with its default options, on 3 tasks of real digits."""
    stream, config = streams[scenario], _config(scenario)
    missed = {}
    for name in list_strategies():
        if name == "icarl" and scenario != "class":
            continue  # nearest-mean-of-exemplars classification: class-IL only
        matrix = run_strategy(stream, config, [name]).metrics.matrix
        if unlearned_tasks(matrix, stream):
            missed[name] = [round(100 * matrix[t][t]) for t in range(len(matrix))]
    assert not missed, f"R diagonal (%) of strategies that did not learn a task: {missed}"


def test_the_former_class_il_lwf_fails_the_check(streams: dict[str, Stream]) -> None:
    """Distillation over every seen class, the new ones padded with zeros on their own rows,
    weighted 1 - 1/t with T^2 (before issue 17): the check catches it."""
    from neuroplast.continual.learner import ContinualLearner
    from neuroplast.continual.runner import build_model

    stream, config = streams["class"], _config("class")
    model, _ = build_model(stream, config.model, seed=0)
    learner = ContinualLearner(
        model, stream, config.train, [LwF(softmax="all_seen", t_squared=True)], seed=0
    )
    diagonal = []
    for t in range(len(stream.tasks)):
        learner.fit_task(t)
        diagonal.append(learner.accuracy(t, through=t))
    matrix = [[diagonal[i] if i == j else 0.0 for j in range(3)] for i in range(3)]
    assert unlearned_tasks(matrix, stream) != [], diagonal


def test_ewc_protects_task_one_after_a_long_second_task() -> None:
    """Domain-IL (the two tasks share their outputs), 300 Adam steps a task: task 1 is fit
    with p ~ 1, so its raw Fisher is all but zero. The default EWC (expected Fisher,
    normalised to sum 1) holds task 1 well above naive fine-tuning's accuracy with the same
    seed; the raw argmax Fisher at the former default lambda does not."""
    config = _config("domain", steps=300)
    stream = make_stream(config.stream.model_copy(update={"tasks": 2}))
    raw = {"lambda": 5000, "fisher_labels": "argmax", "fisher_norm": "none"}
    after = {}
    for name, options in (("naive", {}), ("ewc", {}), ("raw", raw)):
        cfg = config.model_copy(
            update={"options": StrategyOptions.model_validate({"ewc": options})}
        )
        matrix = run_strategy(stream, cfg, ["naive" if name == "naive" else "ewc"]).metrics.matrix
        after[name] = matrix[1][0]
        assert matrix[1][1] > 0.8, (name, matrix)  # task 2 is still learned
    assert after["ewc"] > after["naive"] + 0.1, after
    assert after["raw"] < after["naive"] + 0.05, after


def test_the_reproduction_reports_a_strategy_that_learns_no_new_task() -> None:
    """The issue's class-IL LwF (R diagonal 98.5 / 2.2 / 0 / 0 / 0) is flagged, naive's is
    not; ``continual reproduce --json`` lists them."""
    from torch import nn

    from neuroplast.continual.metrics import compute_metrics
    from neuroplast.continual.reproduce import ReproduceResult
    from neuroplast.continual.runner import RunResult, StrategySummary

    stream = make_stream(
        ContinualConfig.model_validate(
            {"stream": {"scenario": "class", "train_per_class": 10, "test_per_class": 5}}
        ).stream
    )

    def summary(name: str, diagonal: list[float]) -> StrategySummary:
        matrix = [[diagonal[i] if i == j else 0.0 for j in range(5)] for i in range(5)]
        run = RunResult(name, 0, compute_metrics(matrix), 1.0, 0, nn.Identity(), [])
        return StrategySummary(name, [run])

    result = ReproduceResult(
        [0],
        5,
        {
            "lwf": {"class": summary("lwf", [0.985, 0.022, 0.0, 0.0, 0.0])},
            "naive": {"class": summary("naive", [0.99, 0.94, 0.95, 0.99, 0.95])},
        },
        1.0,
        {"class": stream},
    )
    assert result.unlearned("lwf", "class") == [2, 3, 4, 5]
    assert result.unlearned("naive", "class") == []
    assert result.diagonal("lwf", "class") == pytest.approx([98.5, 2.2, 0.0, 0.0, 0.0])
    assert result.steps_per_task() == 5  # 5 epochs of one batch: 20 images a task
    from neuroplast.cli._continual_tables import cells

    rows = {(c["strategy"], c["scenario"]): c for c in cells(result)}
    assert rows[("lwf", "class")]["unlearned"] == [2, 3, 4, 5]
    assert rows[("naive", "class")]["unlearned"] == []
    assert rows[("ewc", "task")]["diagonal"] is None  # not run


def test_replay_weighs_the_replayed_loss_when_a_task_repeats_classes() -> None:
    """New classes only: the current loss weighs its share of the classes seen (each class
    the same). A task that also holds earlier classes (domain-IL, or an update on feedback
    that spans old and new classes) would get share 1 by that rule and silence replay: it
    gets 1/t instead."""
    from types import SimpleNamespace

    from neuroplast.continual.strategies.replay import Replay

    def learner(*tasks: list[int]) -> Any:
        stream = SimpleNamespace(tasks=[SimpleNamespace(classes=c) for c in tasks])
        return SimpleNamespace(stream=stream, current_task=len(tasks) - 1)

    assert Replay.current_share(learner([0, 1], [2, 3])) == 0.5
    assert Replay.current_share(learner([0, 1], [2, 3], [4, 5, 6, 7])) == 0.5
    assert Replay.current_share(learner(list(range(8)), list(range(10)))) == 0.5
    assert Replay.current_share(learner([0, 1], [0, 1], [0, 1])) == pytest.approx(1 / 3)
