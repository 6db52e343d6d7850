"""The seed API on the Engine (EWC by model id) and the trainer hook plugins rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from neuroplast import Engine
from neuroplast.config import TrainConfig
from neuroplast.data import ImageData, load_builtin
from neuroplast.errors import ConfigError
from neuroplast.training import Callback, Trainer


def _digits() -> tuple[Tensor, Tensor]:
    data = load_builtin("digits", limit=300, seed=0)
    assert isinstance(data, ImageData)
    x = (torch.from_numpy(data.images).float() / 255 - 0.5) / 0.5
    return x, torch.from_numpy(data.labels)


def test_fisher_information_and_ewc_loss_by_model_id(tmp_path: Path) -> None:
    x, y = _digits()
    loader = DataLoader(TensorDataset(x, y), batch_size=50)
    with Engine(tmp_path / "home") as engine:
        model_id = engine.model_manager.create_model(
            "digits-ewc",
            "image_mlp",
            "image_classification",
            {"num_classes": 10, "image_size": 8, "in_channels": 1, "hidden_dim": 32},
        )
        learner = engine.continual_learner
        with pytest.raises(ConfigError, match="call compute_fisher_information"):
            learner.ewc_loss(model_id, {}, 1.0)
        fisher = learner.compute_fisher_information(model_id, loader, max_samples=100)
        model = engine.model_manager.get_model(model_id)
        assert set(fisher) == {n for n, _ in model.named_parameters()}
        # the output layer's Fisher in closed form on the first 100 inputs: per input,
        # sum_c p_c (e_c - p)^2 for the bias, times the squared hidden features for the
        # weights (classes with p_c < 1e-4 are skipped, as documented)
        with torch.no_grad():
            hidden = model.eval().features(x[:100])
            p = torch.softmax(model.classifier(hidden), dim=1)
        weights = torch.where(p >= 1e-4, p, torch.zeros_like(p))
        diff = torch.eye(10)[None, :, :] - p[:, None, :]  # [input, class c, output]
        per_input = (weights[:, :, None] * diff**2).sum(dim=1)  # [input, output]
        torch.testing.assert_close(
            fisher["classifier.bias"], per_input.mean(dim=0), rtol=1e-4, atol=1e-8
        )
        torch.testing.assert_close(
            fisher["classifier.weight"], per_input.T @ hidden**2 / 100, rtol=1e-4, atol=1e-8
        )
        assert all(bool((f > 0).any()) for f in fisher.values())
        old = {n: p.detach().clone() for n, p in model.named_parameters()}
        assert float(learner.ewc_loss(model_id, old, 100.0).detach()) == 0.0
        with torch.no_grad():
            model.classifier.bias += 0.5
        expected = 0.5 * 100.0 * float((fisher["classifier.bias"] * 0.25).sum())
        assert float(learner.ewc_loss(model_id, old, 100.0).detach()) == pytest.approx(expected)
        with pytest.raises(ConfigError, match="old_params lacks"):
            learner.ewc_loss(model_id, {}, 1.0)


class _BatchSeen(Callback):
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def on_train_batch_start(self, trainer: Trainer, inputs: Tensor, targets: Tensor) -> None:
        self.sizes.append(int(targets.shape[0]))


def test_trainer_fires_on_train_batch_start_before_each_forward() -> None:
    x, y = _digits()
    loader = DataLoader(TensorDataset(x, y), batch_size=64)
    seen = _BatchSeen()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    config = TrainConfig(epochs=2, early_stopping={"enabled": False})
    Trainer(config, callbacks=[seen]).fit(model, loader)
    assert seen.sizes == [64, 64, 64, 64, 44] * 2
