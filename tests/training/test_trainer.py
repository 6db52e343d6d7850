from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from neuroplast.config import DataConfig, TrainConfig
from neuroplast.errors import ArtifactError, ConfigError, TrainingError
from neuroplast.models import create_model
from neuroplast.training import Callback, Trainer, load_checkpoint, resolve_precision
from neuroplast.types import ModelMetrics
from neuroplast.workflows import prepare


@pytest.fixture(scope="module")
def rt() -> Any:
    cfg = DataConfig(dataset="rotten_tomatoes", limit=500, seed=2, max_length=32)
    data = prepare(cfg)
    return data


def _loaders(rt: Any, batch_size: int = 32) -> tuple[Any, Any]:
    train = rt.loader("train", batch_size=batch_size, shuffle=True, seed=1, min_length=5)
    val = rt.loader("val", batch_size=128, shuffle=False, min_length=5)
    return train, val


def _model(rt: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(
        "cnn",
        {"vocab_size": len(rt.vocab), "num_classes": 2, "embedding_dim": 16, "num_filters": 8},
    )


def _config(**kw: Any) -> TrainConfig:
    base: dict[str, Any] = {"epochs": 3, "batch_size": 32, "seed": 11, "precision": "32-true"}
    base.update(kw)
    return TrainConfig.model_validate(base)


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_fit_start(self, trainer: Trainer) -> None:
        self.events.append("fit_start")

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.events.append(f"epoch_start:{epoch}")

    def on_epoch_end(self, trainer: Trainer, metrics: ModelMetrics) -> None:
        self.events.append(f"epoch_end:{metrics.epoch}")

    def on_fit_end(self, trainer: Trainer, history: list[ModelMetrics]) -> None:
        self.events.append("fit_end")


def test_fit_learns_and_records_every_epoch(rt: Any) -> None:
    train, val = _loaders(rt)
    recorder = Recorder()
    trainer = Trainer(_config(epochs=4, early_stopping={"enabled": False}), callbacks=[recorder])
    history = trainer.fit(_model(rt), train, val)
    assert [m.epoch for m in history] == [1, 2, 3, 4]
    assert history[-1].train_loss < history[0].train_loss
    for m in history:
        assert m.val_loss is not None and 0.0 <= (m.val_accuracy or 0) <= 1.0
        assert m.samples_per_sec and m.samples_per_sec > 0 and m.seconds and m.learning_rate
    assert recorder.events == ["fit_start"] + [
        e for i in range(1, 5) for e in (f"epoch_start:{i}", f"epoch_end:{i}")
    ] + ["fit_end"]


def test_early_stopping_stops_after_patience_epochs_without_improvement(rt: Any) -> None:
    train, val = _loaders(rt)

    class NeverBetter(Callback):
        def on_epoch_end(self, trainer: Trainer, metrics: ModelMetrics) -> None:
            metrics.extra["score"] = 1.0

    cfg = _config(epochs=10, early_stopping={"monitor": "score", "mode": "max", "patience": 2})
    trainer = Trainer(cfg, callbacks=[NeverBetter()])
    history = trainer.fit(_model(rt), train, val)
    assert len(history) == 3  # epoch 1 sets the best, 2 and 3 do not improve
    assert trainer.best_epoch == 1


def test_early_stopping_on_an_unknown_metric_lists_the_real_ones(rt: Any) -> None:
    train, val = _loaders(rt)
    trainer = Trainer(_config(early_stopping={"monitor": "val_f1"}))
    with pytest.raises(ConfigError, match=r"val_f1.*available:.*val_accuracy.*val_loss"):
        trainer.fit(_model(rt), train, val)


@pytest.mark.parametrize("schedule", ["cosine", "step", "onecycle", "plateau"])
def test_every_schedule_changes_the_learning_rate(rt: Any, schedule: str) -> None:
    train, val = _loaders(rt)
    cfg = _config(
        scheduler={"name": schedule, "step_size": 1, "patience": 0}, optimizer={"lr": 0.01}
    )
    history = Trainer(cfg, callbacks=[]).fit(_model(rt), train, val)
    rates = [m.learning_rate for m in history]
    if schedule != "plateau":
        assert len(set(rates)) > 1, rates


@pytest.mark.parametrize("schedule", ["step", "cosine"])
def test_an_epochs_learning_rate_is_the_mean_of_the_rates_its_steps_used(schedule: str) -> None:
    """By hand: 4 optimizer steps per epoch, SGD at 0.1, 3 epochs. ``step`` (gamma 0.5 every
    epoch) runs epochs at 0.1, 0.05, 0.025; ``cosine`` over T = 12 steps runs step t at
    0.1 * (1 + cos(pi t / 12)) / 2, and epoch e is the mean over t = 4(e - 1) ... 4e - 1.
    (Read after the scheduler stepped, the rates were 0.05, 0.025, 0.0125 and ..., 0.0.)"""
    torch.manual_seed(0)
    x = torch.randint(1, 50, (64, 12))
    loader = DataLoader(TensorDataset(x, (x[:, 0] > 25).long()), batch_size=16)
    model = create_model("cnn", {"vocab_size": 50, "num_classes": 2, "embedding_dim": 8})
    cfg = _config(
        optimizer={"name": "sgd", "lr": 0.1},
        scheduler={"name": schedule, "step_size": 1, "gamma": 0.5},
        early_stopping={"enabled": False},
    )
    history = Trainer(cfg).fit(model, loader)
    if schedule == "step":
        expected = [0.1, 0.05, 0.025]
    else:
        rate = [0.1 * (1 + math.cos(math.pi * t / 12)) / 2 for t in range(12)]
        expected = [sum(rate[4 * e : 4 * e + 4]) / 4 for e in range(3)]
    assert [m.learning_rate for m in history] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_optimizers_and_gradient_accumulation(rt: Any, optimizer: str) -> None:
    train, _ = _loaders(rt, batch_size=16)

    class CountSteps(Callback):
        steps = 0

        def on_after_backward(self, trainer: Trainer) -> None:
            CountSteps.steps += 1

    cfg = _config(
        epochs=5,
        optimizer={"name": optimizer, "lr": 0.1 if optimizer == "sgd" else 0.005},
        accumulate_grad_batches=3,
        early_stopping={"enabled": False},
        grad_clip=None,
    )
    history = Trainer(cfg, callbacks=[CountSteps()]).fit(_model(rt), train)
    assert CountSteps.steps == 5 * -(-len(train) // 3)  # one optimizer step per 3 batches
    assert history[-1].train_loss < history[0].train_loss


class StopAt(Callback):
    """Simulates a crash right after the checkpoint of epoch ``epoch - 1`` was written."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_resume_continues_to_the_same_weights_as_an_uninterrupted_run(
    rt: Any, tmp_path: Path
) -> None:
    cfg = _config(epochs=4, scheduler={"name": "cosine"}, early_stopping={"patience": 10})
    train, val = _loaders(rt)
    full = _model(rt)
    Trainer(cfg, checkpoint_dir=tmp_path / "a").fit(full, train, val)

    train, val = _loaders(rt)
    interrupted = _model(rt)
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, checkpoint_dir=tmp_path / "b", callbacks=[StopAt(3)]).fit(
            interrupted, train, val
        )
    assert load_checkpoint(tmp_path / "b" / "last.json").epoch == 2

    resumed = _model(rt)
    trainer = Trainer(cfg, checkpoint_dir=tmp_path / "b")
    history = trainer.fit(resumed, train, val, resume_from=tmp_path / "b" / "last.json")
    assert trainer.start_epoch == 3
    assert [m.epoch for m in history] == [1, 2, 3, 4]
    for name, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name


def test_best_weights_are_restored(rt: Any, tmp_path: Path) -> None:
    train, val = _loaders(rt)
    model = _model(rt)
    trainer = Trainer(_config(epochs=3), checkpoint_dir=tmp_path)
    trainer.fit(model, train, val)
    best = load_checkpoint(tmp_path / "best.json")
    assert best.epoch == trainer.best_epoch
    assert trainer.load_best_weights(model)
    for name, value in model.state_dict().items():
        assert torch.equal(value, best.model[name])


def test_a_tampered_checkpoint_is_refused(rt: Any, tmp_path: Path) -> None:
    train, val = _loaders(rt)
    Trainer(_config(epochs=1), checkpoint_dir=tmp_path).fit(_model(rt), train, val)
    (weights,) = tmp_path.glob("last.*.safetensors")
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match=r"last\.\w+\.safetensors does not match"):
        Trainer(_config(epochs=2)).fit(_model(rt), train, val, resume_from=tmp_path / "last.json")


def test_plain_tensor_dataloaders_work_and_bad_batches_are_explained() -> None:
    x = torch.randint(1, 50, (64, 12))
    y = (x[:, 0] > 25).long()
    model = create_model("cnn", {"vocab_size": 50, "num_classes": 2, "embedding_dim": 8})
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    with pytest.raises(ConfigError, match="needs validation data"):
        Trainer(_config(epochs=1)).fit(model, loader)
    cfg = _config(epochs=1, early_stopping={"monitor": "train_loss"})
    assert len(Trainer(cfg).fit(model, loader, loader)) == 1
    with pytest.raises(TrainingError, match="each batch must be"):
        Trainer(cfg).fit(model, [x[:4]])
    with pytest.raises(TrainingError, match="training data is empty"):
        Trainer(cfg).fit(model, DataLoader(TensorDataset(x[:0], y[:0])))


def test_divergence_is_reported() -> None:
    x = torch.randint(1, 50, (32, 12))
    model = create_model("cnn", {"vocab_size": 50, "num_classes": 2, "embedding_dim": 8})

    class Explode(Callback):
        def on_loss(self, trainer: Trainer, loss: torch.Tensor, inputs: Any, targets: Any) -> Any:
            return loss * float("inf")

    loader = DataLoader(TensorDataset(x, torch.zeros(32, dtype=torch.long)), batch_size=16)
    with pytest.raises(TrainingError, match="diverged at epoch 1"):
        cfg = _config(epochs=1, early_stopping={"enabled": False})
        Trainer(cfg, callbacks=[Explode()]).fit(model, loader)


def test_precision_auto_is_fp32_on_cpu_and_half_needs_a_gpu() -> None:
    assert resolve_precision("auto", "cpu") == "32-true"
    assert resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"
    with pytest.raises(ConfigError, match="needs a GPU"):
        resolve_precision("16-mixed", "cpu")
