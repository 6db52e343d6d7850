"""Tracking loggers: train a small real model with each one and read back what it wrote."""

from __future__ import annotations

import csv
import re
import struct
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import yaml
from tests.conftest import one_torch_thread, small_text_config

from neuroplast.config import DataConfig, TrainConfig, parse_run_config
from neuroplast.engine import Engine
from neuroplast.errors import ConfigError
from neuroplast.models import create_model
from neuroplast.training import Callback, Trainer
from neuroplast.training.loggers import (
    INSTALL_HINT,
    LOGGERS,
    TrackingTarget,
    check_loggers,
    epoch_values,
    flatten_params,
    make_tracking,
)
from neuroplast.types import ModelMetrics
from neuroplast.workflows import TrainOutcome, prepare

# MLflow's SQL store calls a deprecated SQLAlchemy loader; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")
METRICS = ("train_loss", "val_loss", "val_accuracy", "learning_rate", "samples_per_sec", "seconds")


class Tracked:
    """One workflow run with every logger, and what the registry recorded of it."""

    def __init__(self, home: Path, outcome: TrainOutcome, epochs: list[ModelMetrics]) -> None:
        self.home, self.outcome, self.epochs = home, outcome, epochs
        self.run_dir = home / "logs" / "rt-track" / outcome.run.uid
        self.params = flatten_params(outcome.run.config)
        self.ref = outcome.version.ref


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Tracked:
    home = tmp_path_factory.mktemp("tracked") / "np-home"
    config = small_text_config(
        "rt-track",
        epochs=3,
        scheduler={"name": "cosine"},  # a learning rate that differs per epoch
        loggers=["csv", "tensorboard", "mlflow"],
    )
    with pytest.MonkeyPatch.context() as mp, one_torch_thread():
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        with Engine(home) as engine:
            outcome = engine.train(parse_run_config(config))
            epochs = engine.registry.epoch_metrics(outcome.run.id)
    assert [m.epoch for m in epochs] == [1, 2, 3]
    return Tracked(home, outcome, epochs)


def test_csv_has_one_row_per_epoch_equal_to_the_registry(tracked: Tracked) -> None:
    folder = tracked.run_dir / "csv"
    with (folder / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    for row, metrics in zip(rows, tracked.epochs, strict=True):
        for name in METRICS:
            assert float(row[name]) == metrics.get(name), (metrics.epoch, name)
    assert len({r["learning_rate"] for r in rows}) == 3  # cosine: one mean rate per epoch
    assert yaml.safe_load((folder / "hparams.yaml").read_text()) == tracked.params
    assert tracked.params["train.optimizer.lr"] == 0.001
    assert tracked.params["train.loggers"] == '["csv", "tensorboard", "mlflow"]'
    assert yaml.safe_load((folder / "version.yaml").read_text()) == {
        "neuroplast.version": "rt-track:1"
    }


def _tb_events(folder: Path) -> list[Any]:
    """Every event of the TFRecord event files in ``folder`` (length, crc, data, crc)."""
    from tensorboardX.proto.event_pb2 import Event

    events = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data, pos = path.read_bytes(), 0
        while pos < len(data):
            (length,) = struct.unpack_from("<Q", data, pos)
            event = Event()
            event.ParseFromString(data[pos + 12 : pos + 12 + length])
            events.append(event)
            pos += 12 + length + 4
    return events


def test_tensorboard_events_hold_the_scalars_hparams_and_version(tracked: Tracked) -> None:
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    events = _tb_events(tracked.run_dir / "tensorboard")
    scalars: dict[str, dict[int, float]] = {}
    hparams: dict[str, Any] = {}
    texts: list[bytes] = []
    for event in events:
        for value in event.summary.value:
            if value.HasField("simple_value"):
                scalars.setdefault(value.tag, {})[event.step] = value.simple_value
            elif value.tag == "_hparams_/session_start_info":
                plugin = HParamsPluginData.FromString(value.metadata.plugin_data.content)
                hparams = dict(plugin.session_start_info.hparams)
            elif value.tag == "neuroplast.version/text_summary":
                texts.extend(value.tensor.string_val)
    assert set(scalars) == set(METRICS)
    for name in METRICS:
        expected = {m.epoch: m.get(name) for m in tracked.epochs}
        assert scalars[name] == pytest.approx(expected, rel=1e-6), name  # stored as float32
    assert set(hparams) == set(tracked.params)
    assert hparams["train.optimizer.lr"].number_value == pytest.approx(0.001)
    assert hparams["model.architecture"].string_value == "cnn"
    assert texts == [b"rt-track:1"]


def test_mlflow_run_holds_the_metrics_params_and_version_tag(tracked: Tracked) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tracked.home / 'logs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("rt-track")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == tracked.outcome.run.uid
    assert run.data.params == {k: str(v) for k, v in tracked.params.items()}
    assert run.data.tags["neuroplast.version"] == "rt-track:1"
    assert run.data.tags["neuroplast.run"] == tracked.outcome.run.uid
    for name in METRICS:
        history = client.get_metric_history(run.info.run_id, name)
        assert [(h.step, h.value) for h in history] == [
            (m.epoch, m.get(name)) for m in tracked.epochs
        ], name
    assert tracked.outcome.tracking["mlflow"].endswith(f"run {run.info.run_id})")


def test_the_outcome_says_where_each_logger_wrote(tracked: Tracked) -> None:
    where = tracked.outcome.tracking
    assert list(where) == ["csv", "tensorboard", "mlflow"]
    assert Path(where["csv"]) == tracked.run_dir / "csv" / "metrics.csv"
    assert Path(where["tensorboard"]) == tracked.run_dir / "tensorboard"
    assert where["mlflow"].startswith(f"sqlite:///{(tracked.home / 'logs').resolve()}/mlflow.db")


def test_an_unknown_logger_is_refused_with_the_accepted_names() -> None:
    raw = small_text_config(loggers=["csv", "wandb"])
    with pytest.raises(ConfigError, match=r"train\.loggers\.1.*'csv', 'tensorboard' or 'mlflow'"):
        parse_run_config(raw)
    with pytest.raises(ConfigError, match="unknown logger 'wandb'; choose from: csv, tensorboard"):
        check_loggers(["wandb"])
    with pytest.raises(ConfigError, match=r"train\.loggers.*lists csv more than once"):
        parse_run_config(small_text_config(loggers=["csv", "csv"]))
    assert LOGGERS == ("csv", "tensorboard", "mlflow")
    assert [cls.name for cls in check_loggers(LOGGERS)] == list(LOGGERS)  # one class a name


@pytest.mark.parametrize(
    ("logger", "modules"),
    [("mlflow", ["mlflow"]), ("tensorboard", ["tensorboardX", "torch.utils.tensorboard"])],
)
def test_a_missing_package_names_the_pip_command_before_any_work(
    logger: str, modules: list[str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails
    with pytest.raises(ConfigError, match=re.escape(INSTALL_HINT)):
        check_loggers(["csv", logger])
    config = parse_run_config(small_text_config(loggers=[logger]))
    with Engine(home) as engine:
        with pytest.raises(ConfigError, match=re.escape(INSTALL_HINT)):
            engine.train(config)
        started = engine.registry.latest_interrupted_run(config.model_dump(mode="json"))
    assert started is None  # no run was started: the registry holds nothing of it
    assert not (home / "logs").exists()


def test_only_global_rank_zero_writes(tmp_path: Path) -> None:
    tracking = make_tracking(["csv", "tensorboard"], TrackingTarget(tmp_path, "m", "run"))
    trainer: Any = SimpleNamespace(
        fabric=SimpleNamespace(is_global_zero=False), history=[], config=TrainConfig()
    )
    tracking.on_fit_start(trainer)
    tracking.on_epoch_end(trainer, ModelMetrics(epoch=1, train_loss=0.5))
    tracking.log_version("m:1")
    tracking.on_fit_end(trainer, [])
    assert list(tmp_path.iterdir()) == []


# ---- resume: the same files and the same MLflow run go on -----------------------------------
@pytest.fixture(scope="module")
def rt() -> Any:
    return prepare(DataConfig(dataset="rotten_tomatoes", limit=400, seed=2, max_length=32))


class StopAt(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_a_resumed_run_continues_its_csv_and_mlflow_run(
    rt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = TrainConfig(epochs=4, batch_size=32, seed=3, early_stopping={"enabled": False})
    store = f"sqlite:///{tmp_path / 'elsewhere.db'}"  # a store named in train.mlflow_uri
    target = TrackingTarget(tmp_path / "logs", "rt-resume", "run1", mlflow_uri=store)
    train = rt.loader("train", batch_size=32, shuffle=True, seed=1, min_length=5)
    val = rt.loader("val", batch_size=128, shuffle=False, min_length=5)

    def model() -> torch.nn.Module:
        torch.manual_seed(0)
        options = {"vocab_size": len(rt.vocab), "num_classes": 2, "embedding_dim": 8}
        return create_model("cnn", {**options, "num_filters": 4})

    checkpoints = tmp_path / "ckpt"
    first = make_tracking(["csv", "mlflow"], target, close_at_fit_end=False)
    with one_torch_thread(), pytest.raises(KeyboardInterrupt), first:
        Trainer(cfg, callbacks=[first, StopAt(3)], checkpoint_dir=checkpoints).fit(
            model(), train, val
        )
    client = MlflowClient(tracking_uri=store)
    run_id = first.loggers[1].state_dict()["run_id"]
    assert client.get_run(run_id).info.status == "KILLED"

    second = make_tracking(["csv", "mlflow"], target)
    trainer = Trainer(cfg, callbacks=[second], checkpoint_dir=checkpoints)
    with one_torch_thread():
        history = trainer.fit(model(), train, val, resume_from=checkpoints / "last.json")
    assert trainer.start_epoch == 3 and second.loggers[1].state_dict()["run_id"] == run_id

    with (target.run_dir / "csv" / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["val_loss"]) for r in rows] == [m.val_loss for m in history]
    assert client.get_run(run_id).info.status == "FINISHED"
    steps = [(h.step, h.value) for h in client.get_metric_history(run_id, "train_loss")]
    assert steps == [(m.epoch, m.train_loss) for m in history]


def test_the_mlflow_store_is_the_config_uri_else_the_environment_else_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neuroplast.training._mlflow import MLflowTrackingLogger

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    local = MLflowTrackingLogger(TrackingTarget(tmp_path, "m", "r"))
    assert local.uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert MLflowTrackingLogger(TrackingTarget(tmp_path, "m", "r")).uri == "http://127.0.0.1:5000"
    configured = TrackingTarget(tmp_path, "m", "r", mlflow_uri="sqlite:///other.db")
    assert MLflowTrackingLogger(configured).uri == "sqlite:///other.db"


def test_flatten_params_and_epoch_values() -> None:
    nested = {"a": {"b": 1, "c": {"d": "x"}}, "e": [3, 4], "f": None, "g": {}, "h": True}
    assert flatten_params(nested) == {
        "a.b": 1,
        "a.c.d": "x",
        "e": "[3, 4]",
        "f": "null",
        "g": "{}",
        "h": True,
    }
    metrics = ModelMetrics(epoch=2, train_loss=0.5, val_loss=0.25, extra={"score": 0.75})
    assert epoch_values(metrics) == {"train_loss": 0.5, "val_loss": 0.25, "score": 0.75}
