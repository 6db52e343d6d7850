"""iCaRL: herding picks the exemplars a hand computation picks, old classes keep their
first picks when the memory shrinks, and classification is by the nearest L2-normalised
exemplar mean."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuroplast.config import TrainConfig
from neuroplast.continual import ContinualLearner, StreamConfig, make_stream
from neuroplast.continual.runner import build_model
from neuroplast.continual.strategies import ICaRL, herding
from neuroplast.continual.strategies.replay import _features

TRAIN = TrainConfig(
    epochs=1,
    batch_size=64,
    grad_clip=None,
    optimizer={"name": "adam", "lr": 0.001, "weight_decay": 0.0},
)
MODEL = {"architecture": "image_mlp", "hidden_dim": 32, "num_layers": 1, "dropout": 0.0}


def test_herding_matches_a_hand_computation() -> None:
    # unit vectors; mean of all four = (0.52, 0.64)
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6], [0.28, 0.96]])
    # k=1: distances to the mean .800 .632 .283 .400 -> row 2
    # k=2: |mean - (f2+fi)/2| = .510 .200 - .141 -> row 3
    # k=3: |mean - (f2+f3+fi)/3| = .211 .267 -> row 0 (nearest-to-the-mean order would
    #      take row 1 third: its own distance .632 < .800)
    assert herding(f, 4).tolist() == [2, 3, 0, 1]
    assert herding(f, 2).tolist() == [2, 3]
    assert herding(f, 9).tolist() == [2, 3, 0, 1]  # never more rows than there are


def test_herding_mean_approaches_the_class_mean() -> None:
    feats = F.normalize(torch.randn(200, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    mean = feats.mean(0)
    picked = herding(feats, 10)
    herd_gap = float((feats[picked].mean(0) - mean).norm())
    random_gaps = [
        float(
            (
                feats[torch.randperm(200, generator=torch.Generator().manual_seed(s))[:10]].mean(0)
                - mean
            ).norm()
        )
        for s in range(20)
    ]
    assert herd_gap < 0.5 * min(random_gaps), (herd_gap, min(random_gaps))


def test_icarl_buffer_is_the_herding_set_and_old_classes_keep_their_prefix() -> None:
    stream = make_stream(
        StreamConfig(scenario="class", tasks=2, train_per_class=60, test_per_class=20)
    )
    model, _ = build_model(stream, MODEL, seed=0)
    icarl = ICaRL(buffer_size=40)
    learner = ContinualLearner(model, stream, TRAIN, [icarl], seed=0)
    learner.fit_task(0)
    task = stream.tasks[0]
    first = {}
    model.eval()
    for c in task.classes:
        x = task.x_train[task.y_train == c]
        with torch.no_grad():
            expected = x[herding(_features(model, x), 20)]  # 40 slots / 2 classes
        first[c] = icarl.buffer.x[icarl.buffer.y == c]
        assert torch.equal(first[c], expected)
    learner.fit_task(1)
    assert sorted(icarl.buffer.y.tolist()) == sorted([0] * 10 + [1] * 10 + [2] * 10 + [3] * 10)
    for c in task.classes:  # 40 slots / 4 classes: the first 10 picks stay
        assert torch.equal(icarl.buffer.x[icarl.buffer.y == c], first[c][:10])
    # the class means are the normalised means of the normalised exemplar features
    assert icarl.means is not None
    model.eval()
    with torch.no_grad():
        feats = _features(model, icarl.buffer.x)
    expected_means = F.normalize(
        torch.stack([feats[icarl.buffer.y == c].mean(0) for c in range(4)]), dim=1
    )
    assert torch.allclose(icarl.means, expected_means, atol=1e-6)
    assert torch.allclose(icarl.means.norm(dim=1), torch.ones(4), atol=1e-6)
    # it predicts the nearest mean; classifier="output" predicts with the output layer
    x, mask = stream.tasks[1].x_test, stream.output_mask(1)
    with torch.no_grad():
        nearest = torch.cdist(_features(model, x), icarl.means).argmin(1)
        output = model(x).masked_fill(~mask, -1e9).argmax(1)
    assert torch.equal(learner.predict(x, mask), nearest)
    icarl.classifier = "output"
    assert torch.equal(learner.predict(x, mask), output)
    assert not torch.equal(nearest, output)  # the two classifiers differ on these rows


def test_icarl_distils_without_the_t_squared_factor_by_default() -> None:
    """The distillation term added to the loss is the KL divergence at T = 2 alone; with
    ``t_squared=True`` it is 4 times that (Hinton's scale, which held new classes back)."""
    from types import SimpleNamespace

    from neuroplast.continual.strategies.lwf import distillation_loss

    generator = torch.Generator().manual_seed(0)
    inputs, new = torch.randn(6, 5, generator=generator), torch.randn(6, 4, generator=generator)
    teacher = torch.nn.Linear(5, 4)
    groups = [torch.tensor([0, 1])]
    kd = distillation_loss(new, teacher(inputs).detach(), groups, 2.0, t_squared=False)
    terms = []
    for option in ({}, {"t_squared": True}):
        icarl = ICaRL(**option)  # type: ignore[arg-type]
        icarl._learner = SimpleNamespace(model=SimpleNamespace(last_logits=new))  # type: ignore[assignment]
        icarl.distil.teacher, icarl.distil.groups = teacher, groups
        loss = torch.tensor(0.5)
        terms.append(icarl.on_loss(None, loss, inputs, torch.zeros(6, dtype=torch.long)) - loss)  # type: ignore[arg-type]
    assert float(kd) > 0
    assert torch.allclose(terms[0], kd)
    assert torch.allclose(terms[1], 4 * kd)


def test_icarl_trains_on_the_task_rows_and_the_exemplars() -> None:
    stream = make_stream(
        StreamConfig(scenario="class", tasks=2, train_per_class=30, test_per_class=10)
    )
    task1 = stream.tasks[1]
    for train_on, extra in (("union", 20), ("replay", 0)):
        model, _ = build_model(stream, MODEL, seed=0)
        icarl = ICaRL(buffer_size=20, train_on=train_on)  # type: ignore[arg-type]
        learner = ContinualLearner(model, stream, TRAIN, [icarl], seed=0)
        learner.fit_task(0)
        x, y = icarl.train_data(learner, 1, task1.x_train, task1.y_train)
        assert len(y) == len(task1.y_train) + extra
        assert torch.equal(x[len(task1.y_train) :], icarl.buffer.x[:extra])
        assert sorted(set(y.tolist())) == ([0, 1, 2, 3] if extra else [2, 3])
