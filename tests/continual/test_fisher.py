"""The Fisher information against its closed form for a softmax-linear model, and the merged
EWC penalty against the sum of the per-task penalties it replaces."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuroplast.continual.strategies import EWC, ewc_penalty, fisher_information


def _linear() -> tuple[nn.Linear, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Linear(3, 4)
    x = torch.randn(5, 3)
    return model, x


@pytest.mark.parametrize("labels", ["expected", "argmax"])
def test_fisher_matches_the_closed_form_of_a_linear_softmax(labels: str) -> None:
    model, x = _linear()
    mask = torch.tensor([True, True, False, True])
    got = fisher_information(model, [x], mask=mask, labels=labels)  # type: ignore[arg-type]
    # d log p_c / dW = (e_c - p) x^T and d/db = e_c - p, p the softmax over the mask
    with torch.no_grad():
        p = torch.softmax(model(x).masked_fill(~mask, -1e9), dim=1)
    fw, fb = torch.zeros(4, 3), torch.zeros(4)
    for i in range(len(x)):
        classes = (
            mask.nonzero().flatten().tolist() if labels == "expected" else [int(p[i].argmax())]
        )
        for c in classes:
            weight = float(p[i, c]) if labels == "expected" else 1.0
            d = torch.nn.functional.one_hot(torch.tensor(c), 4).float() - p[i]
            fw += weight * torch.outer(d, x[i]) ** 2
            fb += weight * d**2
    assert torch.allclose(got["weight"], fw / len(x), atol=1e-6)
    assert torch.allclose(got["bias"], fb / len(x), atol=1e-6)
    assert float(got["weight"][2].abs().sum()) == 0.0  # a masked output learns nothing


def test_expected_fisher_exceeds_argmax_on_confident_rows() -> None:
    model, x = _linear()
    with torch.no_grad():
        model.weight.mul_(6.0)  # confident predictions
    expected = fisher_information(model, [x], labels="expected")
    argmax = fisher_information(model, [x], labels="argmax")
    assert float(expected["weight"].sum()) > 1.5 * float(argmax["weight"].sum())


def test_merged_ewc_penalty_equals_the_sum_of_per_task_penalties() -> None:
    model, _ = _linear()
    g = torch.Generator().manual_seed(1)
    ewc = EWC(lambda_=7.0)
    for _ in range(3):
        ewc.fishers.append(
            {n: torch.rand(p.shape, generator=g) for n, p in model.named_parameters()}
        )
        ewc.anchors.append(
            {n: torch.randn(p.shape, generator=g) for n, p in model.named_parameters()}
        )
    ewc.fishers[1]["bias"][0] = 0.0  # a parameter one task does not care about
    for f in ewc.fishers:
        f["bias"][1] = 0.0  # and one no task cares about
    ewc._learner = type("L", (), {"inner": model})()  # type: ignore[assignment]
    expected = sum(
        ewc_penalty(model, f, a, 7.0) for f, a in zip(ewc.fishers, ewc.anchors, strict=True)
    )
    got = ewc.penalty()
    assert float(got.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    got.backward()
    grad_merged = model.weight.grad.clone()
    model.zero_grad()
    sum(
        ewc_penalty(model, f, a, 7.0) for f, a in zip(ewc.fishers, ewc.anchors, strict=True)
    ).backward()
    assert torch.allclose(grad_merged, model.weight.grad, rtol=1e-5, atol=1e-6)


def test_ewc_anchored_at_the_latest_task_is_online_ewc_with_gamma_one() -> None:
    from neuroplast.config import TrainConfig
    from neuroplast.continual import ContinualLearner, StreamConfig, make_stream
    from neuroplast.continual.runner import build_model
    from neuroplast.continual.strategies import OnlineEWC

    stream = make_stream(StreamConfig(scenario="task", tasks=3, train_per_class=40))
    train = TrainConfig(
        epochs=1, batch_size=32, grad_clip=None, optimizer={"name": "adam", "lr": 0.01}
    )
    arch = {"architecture": "image_mlp", "hidden_dim": 16, "num_layers": 1, "dropout": 0.0}
    params = {}
    for name, plugin in (
        ("latest", EWC(lambda_=50.0, fisher_samples=40, anchor="latest")),
        ("online", OnlineEWC(lambda_=50.0, gamma=1.0, fisher_samples=40)),
        ("task", EWC(lambda_=50.0, fisher_samples=40, anchor="task")),
    ):
        model, _ = build_model(stream, arch, seed=0)
        learner = ContinualLearner(model, stream, train, [plugin], seed=0)
        for i in range(3):
            learner.fit_task(i)
        params[name] = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert torch.allclose(params["latest"], params["online"], atol=1e-4)
    assert not torch.allclose(params["task"], params["online"], atol=1e-3)


def test_ewc_state_round_trips_and_stores_a_shared_anchor_once() -> None:
    model, _ = _linear()
    g = torch.Generator().manual_seed(2)
    for anchor, stored in (("task", 3), ("latest", 1)):
        ewc = EWC(lambda_=3.0, anchor=anchor)  # type: ignore[arg-type]
        latest = {n: torch.randn(p.shape, generator=g) for n, p in model.named_parameters()}
        for _ in range(3):
            ewc.fishers.append(
                {n: torch.rand(p.shape, generator=g) for n, p in model.named_parameters()}
            )
            own = {n: torch.randn(p.shape, generator=g) for n, p in model.named_parameters()}
            ewc.anchors.append(latest if anchor == "latest" else own)
        tensors = ewc.artifacts()
        assert (
            len([k for k in tensors if k.startswith("anchor.") and k.endswith(".bias")]) == stored
        )
        again = EWC(lambda_=3.0)
        again.load_artifacts(tensors)
        for e in (ewc, again):
            e._learner = type("L", (), {"inner": model})()  # type: ignore[assignment]
        assert float(again.penalty().detach()) == pytest.approx(float(ewc.penalty().detach()))
