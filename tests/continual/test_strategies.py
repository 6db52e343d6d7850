"""Each strategy plugin really changes the loss (or the data) on later tasks, and they compose."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from neuroplast.config import TrainConfig
from neuroplast.continual import ContinualConfig, ContinualLearner, StreamConfig, make_stream
from neuroplast.continual.config import StrategyOptions
from neuroplast.continual.runner import build_model, run_strategy
from neuroplast.continual.strategies import (
    EWC,
    SI,
    Joint,
    LwF,
    Plugin,
    Replay,
    ReplayBuffer,
    create_plugins,
    ewc_penalty,
)
from neuroplast.continual.streams import Stream
from neuroplast.errors import ConfigError
from neuroplast.training import Trainer

TRAIN = TrainConfig(
    epochs=2,
    batch_size=64,
    grad_clip=None,
    optimizer={"name": "adam", "lr": 0.001, "weight_decay": 0.0},
)
MODEL = {"architecture": "image_mlp", "hidden_dim": 64, "num_layers": 1, "dropout": 0.0}


@pytest.fixture(scope="module")
def small_stream() -> Stream:
    cfg = StreamConfig(scenario="task", tasks=3, train_per_class=100, test_per_class=50)
    return make_stream(cfg)


class Spy(Plugin):
    """Records, per task, the loss it receives (placed before and after a plugin)."""

    def __init__(self) -> None:
        self.losses: dict[int, list[float]] = {}
        self.task = 0

    def before_task(self, learner: ContinualLearner, task: object) -> None:
        self.task = learner.current_task

    def on_loss(self, trainer: Trainer, loss: Tensor, inputs: Tensor, targets: Tensor) -> Tensor:
        self.losses.setdefault(self.task, []).append(float(loss.detach()))
        return loss


def _train(stream: Stream, plugins: list[Plugin], tasks: int = 2) -> ContinualLearner:
    model, _ = build_model(stream, MODEL, seed=0)
    learner = ContinualLearner(model, stream, TRAIN, plugins, seed=0)
    for i in range(tasks):
        learner.fit_task(i)
    return learner


def _changes(plugin: Plugin, stream: Stream) -> tuple[list[float], list[float]]:
    before, after = Spy(), Spy()
    _train(stream, [before, plugin, after])
    assert before.losses[0] == pytest.approx(after.losses[0])  # task 1: nothing to protect
    return before.losses[1], after.losses[1]


def test_ewc_penalty_is_positive_on_the_second_task(small_stream: Stream) -> None:
    ewc = EWC(lambda_=1000.0, fisher_samples=100, fisher_labels="argmax", fisher_norm="none")
    plain, total = _changes(ewc, small_stream)
    diffs = [t - p for p, t in zip(plain, total, strict=True)]
    assert diffs[0] == pytest.approx(0.0, abs=1e-6)  # the weights still sit on the anchor
    assert all(d > 0 for d in diffs[1:]), "the EWC penalty vanished after the first task"
    fisher = ewc.fishers[0]
    # the output layer's Fisher in closed form, at the anchor, on task 1's first 100 inputs:
    # per input (e_yhat - p)^2, p the softmax over task 1's outputs (argmax labels), times
    # the squared hidden features for the weights
    anchored, _ = build_model(small_stream, MODEL, seed=0)
    anchored.load_state_dict(ewc.anchors[0], strict=False)
    mask = small_stream.output_mask(0)
    with torch.no_grad():
        hidden = anchored.eval().features(small_stream.tasks[0].x_train[:100])
        p = torch.softmax(anchored.classifier(hidden).masked_fill(~mask, -1e9), dim=1)
        per_input = (torch.eye(len(mask))[p.argmax(dim=1)] - p).pow(2)  # [input, output]
    torch.testing.assert_close(fisher["classifier.bias"], per_input.mean(dim=0))
    torch.testing.assert_close(fisher["classifier.weight"], per_input.T @ hidden**2 / 100)
    assert bool((fisher["classifier.bias"][mask] > 0).all())  # task 1's outputs matter
    assert float(fisher["classifier.bias"][~mask].abs().sum()) == 0.0  # the others do not
    assert sum(float(f.sum()) for f in fisher.values()) > 0
    assert len(ewc.fishers) == 2  # one Fisher and anchor per finished task
    model = ewc._learner.inner
    assert float(ewc_penalty(model, fisher, ewc.anchors[0], 1000.0).detach()) > 0


def test_si_importance_and_penalty(small_stream: Stream) -> None:
    si = SI(c=10.0)
    plain, total = _changes(si, small_stream)
    assert all(t > p for p, t in zip(plain[1:], total[1:], strict=True))
    assert sum(float(o.sum()) for o in si.omega.values()) > 0


def test_lwf_distils_from_the_previous_model(small_stream: Stream) -> None:
    lwf = LwF(temperature=2.0)
    plain, total = _changes(lwf, small_stream)
    assert lwf.teacher is not None and [g.tolist() for g in lwf.groups] == [[0, 1]]
    # alpha = 1/2 on task 2: total = loss/2 + kd/2, and the kd term is not zero
    assert any(abs(t - p / 2) > 1e-4 for p, t in zip(plain, total, strict=True))


def test_lwf_class_il_distils_over_every_active_class() -> None:
    """Class-IL: the old model's distribution over the old classes, padded with zeros for the
    new ones, against the student's softmax over all active classes (van de Ven & Tolias)."""
    from neuroplast.continual.strategies.lwf import distillation_loss

    torch.manual_seed(0)
    new = torch.randn(3, 4, requires_grad=True)
    old = torch.randn(3, 4)
    group, active, t = torch.tensor([0, 1]), torch.tensor([0, 1, 2, 3]), 2.0
    loss = distillation_loss(new, old, [group], t, active=active)
    target = torch.cat([torch.softmax(old[:, :2] / t, dim=1), torch.zeros(3, 2)], dim=1)
    log_q = torch.log_softmax(new / t, dim=1)
    expected = (torch.xlogy(target, target) - target * log_q).sum(dim=1).mean() * t**2
    assert torch.allclose(loss, expected)
    loss.backward()
    assert new.grad is not None and bool((new.grad[:, 2:] > 0).all())  # new classes pushed down
    # Without `active` (task-IL heads) the softmax stays inside the group: new classes untouched.
    inside = distillation_loss(new, old, [group], t)
    new.grad = None
    inside.backward()
    assert new.grad is not None and bool((new.grad[:, 2:] == 0).all())


def test_lwf_class_il_softmax_is_all_but_label_alone_and_old_only_beside_replay() -> None:
    stream = make_stream(
        StreamConfig(scenario="class", tasks=2, train_per_class=40, test_per_class=10)
    )
    alone = LwF()
    _train(stream, [alone])
    assert alone.mode == "all_but_label" and alone.active is not None
    assert alone.active.tolist() == [0, 1, 2, 3]
    beside = LwF()
    _train(stream, [Replay(buffer_size=20), beside])
    assert beside.active is None and [g.tolist() for g in beside.groups] == [[0, 1]]
    forced = LwF(softmax="all_seen")
    _train(stream, [Replay(buffer_size=20), forced])
    assert forced.active is not None and forced.mode == "all_seen"


def test_all_but_label_leaves_each_rows_own_class_out_of_the_softmax() -> None:
    """A row of new class 2 is taught it is not class 3 (and keeps the old classes' shape);
    nothing pushes its own logit down, which the all_seen target did against the label."""
    from neuroplast.continual.strategies.lwf import distillation_loss

    torch.manual_seed(0)
    new = torch.randn(2, 4, requires_grad=True)
    old = torch.randn(2, 4)
    group, active, labels, t = (
        torch.tensor([0, 1]),
        torch.tensor([0, 1, 2, 3]),
        torch.tensor([2, 3]),
        2.0,
    )
    loss = distillation_loss(new, old, [group], t, active=active, labels=labels, t_squared=False)
    target = torch.softmax(old[:, :2] / t, dim=1)
    for row, other in ((0, 3), (1, 2)):  # the softmax over the old classes and the other new one
        keep = [0, 1, other]
        log_q = torch.log_softmax(new[row, keep] / t, dim=0)[:2]
        expected = (torch.xlogy(target[row], target[row]) - target[row] * log_q).sum()
        loss_row = distillation_loss(
            new[row : row + 1],
            old[row : row + 1],
            [group],
            t,
            active=active,
            labels=labels[row : row + 1],
            t_squared=False,
        )
        assert torch.allclose(loss_row, expected)
    loss.backward()
    assert new.grad is not None
    assert float(new.grad[0, 2]) == 0.0 and float(new.grad[1, 3]) == 0.0  # own label free
    assert float(new.grad[0, 3]) > 0 and float(new.grad[1, 2]) > 0  # the other new class down


def test_replay_mixes_old_rows_in_and_composes_with_lwf(small_stream: Stream) -> None:
    replay = Replay(buffer_size=60, policy="class_balanced")
    plain, total = _changes(replay, small_stream)
    assert torch.bincount(replay.buffer.y).tolist() == [15, 15, 15, 15]  # tasks 1 and 2
    assert any(abs(t - p) > 1e-4 for p, t in zip(plain, total, strict=True))
    spies = [Spy(), Spy(), Spy()]
    both = [spies[0], Replay(buffer_size=60), spies[1], LwF(), spies[2]]
    _train(small_stream, both)
    a, b, c = (s.losses[1] for s in spies)
    assert a != pytest.approx(b) and b != pytest.approx(c)  # each plugin changed the loss


def test_joint_trains_on_every_task_so_far(small_stream: Stream) -> None:
    model, _ = build_model(small_stream, MODEL, seed=0)
    learner = ContinualLearner(model, small_stream, TRAIN, [Joint()])
    _, y = Joint().train_data(
        learner, 2, small_stream.tasks[2].x_train, small_stream.tasks[2].y_train
    )
    assert len(y) == 3 * 200 and set(y.tolist()) == set(range(6))


def test_replay_buffers_keep_their_size_and_balance() -> None:
    x = torch.arange(30).float().unsqueeze(1)
    y = torch.tensor([0] * 20 + [1] * 5 + [2] * 5)
    balanced = ReplayBuffer(10, "class_balanced")
    balanced.add(x[:20], y[:20])
    assert torch.bincount(balanced.y).tolist() == [10]
    balanced.add(x[20:], y[20:])
    assert torch.bincount(balanced.y).tolist() == [4, 3, 3]
    reservoir = ReplayBuffer(10, "reservoir", seed=1)
    reservoir.add(x, y)
    assert len(reservoir) == 10 and reservoir.seen == 30
    assert len(set(reservoir.x.flatten().tolist())) == 10
    with pytest.raises(ConfigError, match="at least 1"):
        ReplayBuffer(0, "reservoir")


def test_unknown_and_badly_combined_strategies_are_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown strategy 'ewk'"):
        create_plugins(["ewk"], StrategyOptions())
    with pytest.raises(ConfigError, match="does not combine"):
        create_plugins(["naive", "replay"], StrategyOptions())


def test_replay_beats_naive_in_class_il() -> None:
    cfg = ContinualConfig.model_validate(
        {
            "stream": {"scenario": "class", "train_per_class": 150, "test_per_class": 60},
            "model": MODEL | {"hidden_dim": 128},
            "train": TRAIN.model_dump() | {"epochs": 3},
            "options": {"replay": {"buffer_size": 200}},
        }
    )
    stream = make_stream(cfg.stream)
    acc = {s: run_strategy(stream, cfg, [s]).metrics.acc for s in ("naive", "replay")}
    assert acc["naive"] < 0.3 and acc["replay"] >= 2 * acc["naive"], acc


@pytest.mark.slow
def test_ewc_and_si_beat_naive_in_task_il() -> None:
    """The reproduction's task-IL setting (2x400 MLP, 5 epochs a task) on one seed."""
    from neuroplast.continual.reproduce import PROTOCOLS

    cfg = PROTOCOLS["split-mnist"]("task", [0], 5)
    stream = make_stream(cfg.stream)
    acc = {s: run_strategy(stream, cfg, [s]).metrics.acc for s in ("naive", "ewc", "si")}
    assert acc["ewc"] > acc["naive"] + 0.03 and acc["si"] > acc["naive"] + 0.03, acc


def test_icarl_classifies_by_the_nearest_exemplar_mean() -> None:
    from neuroplast.continual.strategies import ICaRL

    cfg = StreamConfig(scenario="class", tasks=2, train_per_class=100, test_per_class=50)
    stream = make_stream(cfg)
    icarl = ICaRL(buffer_size=100)
    learner = _train(stream, [icarl])
    assert icarl.mean_classes is not None and icarl.mean_classes.tolist() == [0, 1, 2, 3]
    x = stream.tasks[0].x_test
    nme = icarl.classify(learner, x, None)
    assert nme is not None and set(nme.tolist()) <= {0, 1, 2, 3}
    assert torch.equal(learner.predict(x, None), nme)  # the learner predicts through it
    assert learner.accuracy(0, through=1) > 0.6  # exemplars keep task 1 alive
    with pytest.raises(ConfigError, match="use scenario: class"):
        _train(make_stream(cfg.model_copy(update={"scenario": "task"})), [ICaRL()], tasks=1)
