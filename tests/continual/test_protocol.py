"""The protocol knobs: a step budget per task that every strategy gets in full, Adam's state
kept across tasks, multi-head task-IL, input scaling, ``joint`` beside ``cumulative``, and
the continual training defaults."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import yaml

from neuroplast.config import template_text
from neuroplast.continual import ContinualConfig, ContinualLearner, StreamConfig, make_stream
from neuroplast.continual._protocol import StepBatches
from neuroplast.continual.config import ContinualTrainConfig, parse_continual_config
from neuroplast.continual.heads import TaskHeads, merge_task_heads
from neuroplast.continual.runner import build_model, run_strategy
from neuroplast.continual.strategies import Plugin, create_plugins
from neuroplast.continual.streams import Stream
from neuroplast.errors import ConfigError
from neuroplast.models import logits_of
from neuroplast.training import Trainer

MODEL = {"architecture": "image_mlp", "hidden_dim": 32, "num_layers": 1, "dropout": 0.0}
SMALL = {"tasks": 3, "train_per_class": 30, "test_per_class": 20}


def _config(scenario: str = "class", **train: Any) -> ContinualConfig:
    return parse_continual_config(
        {
            "stream": {"scenario": scenario, **SMALL},
            "model": MODEL,
            "train": {"batch_size": 16, **train},
            "options": {"replay": {"buffer_size": 40}, "icarl": {"buffer_size": 40}},
        }
    )


@pytest.fixture(scope="module")
def class_stream() -> Stream:
    return make_stream(_config().stream)


class _Spy(Plugin):
    """Records Adam's step count at the end of each fit."""

    def __init__(self) -> None:
        self.steps_at_end: list[int] = []

    def on_fit_end(self, trainer: Trainer, history: list[Any]) -> None:
        assert trainer.optimizer is not None
        state = trainer.optimizer.state_dict()["state"]
        self.steps_at_end.append(int(state[0]["step"]))


def _learner(stream: Stream, config: ContinualConfig, names: list[str]) -> ContinualLearner:
    model, _ = build_model(stream, config.model, seed=0)
    plugins = create_plugins(names, config.options, seed=0)
    return ContinualLearner(model, stream, config.train, plugins, seed=0)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_steps_per_task_gives_every_strategy_the_same_optimizer_steps(
    class_stream: Stream, accumulate: int
) -> None:
    config = _config(steps_per_task=7, accumulate_grad_batches=accumulate, epochs=3)
    for names in (["naive"], ["replay"], ["cumulative"], ["icarl"], ["lwf", "replay"]):
        learner = _learner(class_stream, config, names)
        for i in range(3):
            learner.fit_task(i)
        assert learner.steps == [7, 7, 7], names
    joint = _learner(class_stream, config, ["joint"])
    joint.fit_all()
    assert joint.steps == [21]  # one fit with the budget of all three tasks
    # by epochs, the strategies that enlarge the training set get more steps
    by_epochs = _config(epochs=1)
    naive, cumulative = (_learner(class_stream, by_epochs, [n]) for n in ("naive", "cumulative"))
    for i in range(3):
        naive.fit_task(i)
        cumulative.fit_task(i)
    assert naive.steps == [4, 4, 4] and cumulative.steps == [4, 8, 12]


def test_step_batches_are_full_and_see_every_row_before_repeating_one() -> None:
    batches = list(StepBatches(rows=10, batch_size=4, count=5, seed=3))
    assert len(batches) == 5 and all(len(b) == 4 for b in batches)
    flat = [i for b in batches for i in b]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))
    assert list(StepBatches(3, 8, 2, 0)) != [] and all(len(b) == 3 for b in StepBatches(3, 8, 2, 0))


def test_reset_optimizer_false_keeps_adams_state_across_tasks(class_stream: Stream) -> None:
    ends = {}
    for reset in (True, False):
        learner = _learner(
            class_stream, _config(steps_per_task=5, reset_optimizer=reset), ["naive"]
        )
        spy = _Spy()
        learner.plugins.append(spy)
        for i in range(3):
            learner.fit_task(i)
        ends[reset] = spy.steps_at_end
    assert ends[True] == [5, 5, 5]  # a fresh Adam each task
    assert ends[False] == [5, 10, 15]  # its step counts (and moments) carried over


def test_multi_head_task_il_learns_every_task_and_leaves_old_heads_alone() -> None:
    config = _config("task", steps_per_task=40, reset_optimizer=False)
    config.stream.heads = "multi"
    stream = make_stream(config.stream)
    assert stream.heads == "multi"
    model, _ = build_model(stream, config.model, seed=0)
    heads = model.classifier
    assert isinstance(heads, TaskHeads) and [h.out_features for h in heads.heads] == [2, 2, 2]
    learner = ContinualLearner(model, stream, config.train, [], seed=0)
    learner.fit_task(0)
    first = [p.detach().clone() for p in heads.heads[0].parameters()]
    learner.fit_task(1)
    learner.fit_task(2)
    # no gradient reached head 1 on tasks 2 and 3, so Adam's carried momentum did not move it
    assert all(torch.equal(a, b) for a, b in zip(first, heads.heads[0].parameters(), strict=True))
    assert min(learner.accuracies(through=2)) > 0.8  # chance is 0.5 in each task
    x = stream.tasks[1].x_test[:8]
    before = logits_of(model(x)).detach()
    merged = merge_task_heads(model)
    assert isinstance(merged.classifier, torch.nn.Linear)
    assert torch.allclose(logits_of(merged(x)), before, atol=1e-5)


def test_multi_head_needs_the_task_scenario() -> None:
    with pytest.raises(ConfigError, match=r"heads=multi .* use scenario: task"):
        parse_continual_config({"stream": {"scenario": "class", "heads": "multi"}})


def test_input_range_scales_images_and_is_checked() -> None:
    stream = make_stream(StreamConfig(tasks=2, train_per_class=20, input_range=(0, 1)))
    x = stream.tasks[0].x_train
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert stream.image_normalisation == (0.0, 1.0)
    assert make_stream(StreamConfig(tasks=2, train_per_class=20)).image_normalisation == (
        0.5,
        0.5,
    )
    with pytest.raises(ConfigError, match=r"low < high, e.g. \[0, 1\]"):
        parse_continual_config({"stream": {"input_range": [1, 0]}})


def test_joint_trains_once_and_cumulative_task_after_task(class_stream: Stream) -> None:
    config = _config(steps_per_task=30)
    joint = run_strategy(class_stream, config, ["joint"])
    rows = joint.metrics.matrix
    assert all(row == rows[-1] for row in rows) and joint.metrics.bwt is None
    assert joint.metrics.acc > 0.7
    cumulative = run_strategy(class_stream, config, ["cumulative"])
    assert cumulative.metrics.bwt is not None
    assert cumulative.metrics.matrix[0][2] < 0.1  # task 3 unseen after task 1


def test_continual_training_defaults_are_one_set_and_the_template_agrees() -> None:
    train = ContinualConfig().train
    assert (train.optimizer.name, train.optimizer.lr, train.optimizer.weight_decay) == (
        "adam",
        1e-3,
        0.0,
    )
    assert train.grad_clip is None and train.batch_size == 128 and train.reset_optimizer
    assert train.steps_per_task is None
    partial = parse_continual_config({"train": {"optimizer": {"lr": 0.01}}}).train
    assert partial.optimizer.name == "adam" and partial.optimizer.weight_decay == 0.0
    written = yaml.safe_load(template_text("continual"))["train"]
    defaults = ContinualTrainConfig().model_dump()
    for key, value in written.items():
        if isinstance(value, dict):
            assert {k: defaults[key][k] for k in value} == value, key
        else:
            assert defaults[key] == value, key
