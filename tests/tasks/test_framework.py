"""The task framework: dispatch by task, the config's task sections, and the seed API's
create_and_train_model for the new task and model types."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from neuroplast import Engine, ModelType, TaskType
from neuroplast.config import parse_run_config
from neuroplast.errors import ConfigError
from neuroplast.tasks import TASK_MODULES, TaskHandler, is_task_module_task, task_handler
from neuroplast.tasks.anomaly.data import _builtin_frame
from tests.conftest import small_text_config


def test_dispatch_names_every_task_and_refuses_classification() -> None:
    assert TASK_MODULES["generation"] == "neuroplast.tasks.generation"
    assert isinstance(task_handler(TaskType.ANOMALY_DETECTION), TaskHandler)
    assert task_handler("forecasting").task == "forecasting"
    assert not is_task_module_task("text_classification") and is_task_module_task("forecasting")
    with pytest.raises(ConfigError, match="task 'classification' has no task handler"):
        task_handler("classification")


def test_task_sections_belong_to_their_task() -> None:
    raw = small_text_config()
    raw["anomaly"] = {"window": 32}
    with pytest.raises(ConfigError, match="the anomaly: section needs task: anomaly_detection"):
        parse_run_config(raw)
    raw = small_text_config()
    raw["task"] = "classification"  # the plain name classifies, as a config without task:
    assert parse_run_config(raw).task is TaskType.CLASSIFICATION


def test_a_task_config_names_the_task_architectures() -> None:
    raw = {
        "name": "x",
        "task": "anomaly_detection",
        "data": {"dataset": "shuttle"},
        "model": {"architecture": "cnn"},
    }
    with pytest.raises(ConfigError, match=r"not an anomaly detection architecture.*dense_auto"):
        parse_run_config(raw)
    raw["model"] = {"architecture": "dense_autoencoder", "hidden": [8]}
    with pytest.raises(ConfigError, match=r"unknown key 'hidden'.*accepted keys: hidden_dims"):
        parse_run_config(raw)
    raw["model"] = {"architecture": "conv1d_autoencoder"}
    with pytest.raises(ConfigError, match="'shuttle' is not a built-in series anomaly set"):
        parse_run_config(raw)


def test_seed_api_trains_an_autoencoder_and_a_forecaster(home: Path) -> None:
    frame = _builtin_frame("shuttle").sample(n=900, random_state=0)
    x = torch.tensor(frame.drop(columns="anomaly").to_numpy(np.float32))
    x = (x - x.mean(0)) / x.std(0).clamp_min(1e-6)
    y = torch.tensor(frame["anomaly"].to_numpy())
    train = DataLoader(TensorDataset(x[:600], y[:600]), batch_size=64)
    with Engine(home) as engine:
        ref = engine.create_and_train_model(
            "api-ae",
            ModelType.DENSE_AUTOENCODER,
            TaskType.ANOMALY_DETECTION,
            train,
            TensorDataset(x[600:], y[600:]),
            {"hidden_dims": [16], "latent_dim": 3},
            num_epochs=2,
        )
        stored = engine.registry.resolve(ref)
        assert stored.task == "anomaly_detection" and "model.onnx" in stored.artifacts
        series = torch.sin(torch.arange(400, dtype=torch.float32) / 6)
        windows = torch.stack([series[i : i + 24] for i in range(370)]).unsqueeze(-1)
        targets = torch.stack([series[i + 24 : i + 30] for i in range(370)])
        ref = engine.create_and_train_model(
            "api-lstm",
            ModelType.LSTM_FORECASTER,
            "forecasting",
            TensorDataset(windows[:300], targets[:300]),
            TensorDataset(windows[300:], targets[300:]),
            {"hidden_size": 16},
            num_epochs=2,
        )
        forecast = task_handler("forecasting").predict(engine.registry, ref, horizon=6)
    assert len(forecast.document["forecast"]) == 6
