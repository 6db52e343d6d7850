"""The Python API with the seed engine's names, on plain DataLoaders of real token ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from neuroplast import Engine, ModelMetrics, ModelType, TaskType
from neuroplast.config import DataConfig
from neuroplast.errors import ConfigError, ModelNotFoundError, RegistryError
from neuroplast.workflows import prepare


def _tensor_loaders() -> tuple[DataLoader, DataLoader, int]:
    data = prepare(DataConfig(dataset="rotten_tomatoes", limit=400, seed=4, max_length=24))
    assert data.vocab is not None and data.ids is not None

    def tensors(split: str) -> TensorDataset:
        idx = data.indices(split)  # type: ignore[arg-type]
        x = torch.zeros((len(idx), 24), dtype=torch.long)
        for row, i in enumerate(idx):
            seq = data.ids[i][:24]
            x[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        return TensorDataset(x, torch.from_numpy(data.raw.labels[idx]))

    train = DataLoader(tensors("train"), batch_size=32, shuffle=True)
    val = DataLoader(tensors("val"), batch_size=64)
    return train, val, len(data.vocab)


def test_create_and_train_model_then_inspect_it(home: Path) -> None:
    train, val, vocab_size = _tensor_loaders()
    engine = Engine(home)
    config = {
        "vocab_size": vocab_size,
        "num_classes": 2,
        "embedding_dim": 32,
        "hidden_dim": 32,
        "num_layers": 1,
        "dropout": 0.3,
    }
    model_id = engine.create_and_train_model(
        model_name="sentiment_classifier",
        model_type=ModelType.LSTM,
        task_type=TaskType.SENTIMENT_ANALYSIS,
        train_data=train,
        val_data=val,
        config=config,
        num_epochs=2,
    )
    assert model_id == "sentiment_classifier:1"
    info = engine.get_model_info(model_id)
    assert info["model_name"] == "sentiment_classifier"
    assert info["architecture"] == "lstm" and info["task"] == "sentiment_analysis"
    assert info["parameters_count"] == sum(
        p.numel() for p in engine.model_manager.get_model(model_id).parameters()
    )
    assert [m["epoch"] for m in info["training_history"]] == [1, 2]
    history = engine.training_engine.training_history[model_id]
    assert all(isinstance(m, ModelMetrics) and m.val_accuracy is not None for m in history)

    model = engine.model_manager.get_model(model_id)
    model.eval()
    x, _ = next(iter(val))
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (x.shape[0], 2)

    # A fresh engine on the same home loads the saved weights: identical outputs.
    engine.close()
    reopened = Engine(home)
    again = reopened.model_manager.get_model("sentiment_classifier")
    with torch.no_grad():
        assert torch.equal(again(x), logits)
    assert reopened.model_manager.load_model("sentiment_classifier:1") == model_id
    path_id = reopened.model_manager.load_model(info["artifact_dir"])
    assert path_id == model_id
    reopened.close()


def test_create_train_save_in_steps_and_seed_style_configs(home: Path) -> None:
    train, val, vocab_size = _tensor_loaders()
    with Engine(home) as engine:
        model_id = engine.model_manager.create_model(
            "kim",
            ModelType.CNN,
            TaskType.TEXT_CLASSIFICATION,
            {"vocab_size": vocab_size, "num_classes": 2, "num_filters": 8, "filter_sizes": [2, 3]},
        )
        with pytest.raises(ModelNotFoundError):
            engine.get_model_info(model_id)  # not saved yet
        ok = engine.training_engine.train(
            model_id,
            train,
            val,
            num_epochs=1,
            optimizer_config={"type": "sgd", "lr": 0.05},
            scheduler_config={"name": "step"},
            early_stopping_patience=2,
        )
        assert ok is True
        assert engine.get_model_info("kim")["version"] == 1
        with pytest.raises(RegistryError, match="immutable"):
            engine.model_manager.save_model(model_id)


def test_unknown_config_key_lists_the_accepted_keys(home: Path) -> None:
    with Engine(home) as engine:
        with pytest.raises(ConfigError, match=r"num_filter.*num_filters"):
            engine.model_manager.create_model(
                "x",
                ModelType.CNN,
                TaskType.TEXT_CLASSIFICATION,
                {"vocab_size": 10, "num_classes": 2, "num_filter": 3},
            )
        with pytest.raises(ConfigError, match=r"optimizer_config.*accepted keys"):
            model_id = engine.model_manager.create_model(
                "y",
                ModelType.CNN,
                TaskType.TEXT_CLASSIFICATION,
                {"vocab_size": 10, "num_classes": 2},
            )
            engine.training_engine.train(model_id, [], optimizer_config={"learning_rate": 1})
        with pytest.raises(ValueError):
            engine.model_manager.create_model("z", "rnn", TaskType.TEXT_CLASSIFICATION, {})


def test_engine_train_from_a_mapping_and_predict_raw_texts(home: Path) -> None:
    from tests.conftest import small_text_config

    with Engine(home) as engine:
        outcome = engine.train(small_text_config(epochs=1))
        assert outcome.version.ref == "rt-small:1" and outcome.baseline is not None
        predictions = engine.predict("rt-small", ["a gorgeous, witty film", "dull"], top_k=2)
        assert [len(p.top_k) for p in predictions] == [2, 2]
        assert {p.label for p in predictions} <= {"fresh", "rotten"}


def test_importing_neuroplast_creates_no_engine() -> None:
    import subprocess
    import sys

    code = (
        "import neuroplast, neuroplast.engine as e, threading, sys;"
        "assert e._default is None;"
        "assert threading.active_count() == 1, threading.enumerate();"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_neuroplast_datasets_are_accepted_as_well_as_loaders(home: Path) -> None:
    from neuroplast.data import TextDataset

    data = prepare(DataConfig(dataset="rotten_tomatoes", limit=300, seed=2, max_length=30))
    assert data.ids is not None and data.vocab is not None

    def dataset(split: str) -> TextDataset:
        idx = data.indices(split)  # type: ignore[arg-type]
        return TextDataset([data.ids[i] for i in idx], data.raw.labels[idx])

    with Engine(home) as engine:
        model_id = engine.create_and_train_model(
            "from-datasets",
            ModelType.CNN,
            TaskType.SENTIMENT_ANALYSIS,
            dataset("train"),
            dataset("val"),
            {"vocab_size": len(data.vocab), "num_classes": 2, "num_filters": 8},
            num_epochs=2,
            batch_size=16,
        )
        history = engine.training_engine.training_history[model_id]
        assert len(history) == 2 and history[1].train_loss < history[0].train_loss


def test_api_models_explain_what_evaluate_can_do(home: Path, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    with Engine(home) as engine:
        model_id = engine.model_manager.create_model(
            "api-img",
            ModelType.MLP,
            TaskType.IMAGE_CLASSIFICATION,
            {"num_classes": 2, "image_size": 8, "in_channels": 1, "hidden_dim": 8},
        )
        engine.model_manager.save_model(model_id)
        with pytest.raises(ConfigError, match="evaluate it on a labelled file with --data"):
            engine.evaluate(model_id)
        folder = tmp_path / "images"
        for cls in ("0", "1"):
            (folder / cls).mkdir(parents=True)
            for i in range(3):
                image = np.full((8, 8), 100 * int(cls) + i, dtype=np.uint8)
                Image.fromarray(image).save(folder / cls / f"{i}.png")
        report = engine.evaluate(model_id, data=str(folder))
        assert report.result.samples == 6 and report.baseline is None


def test_registry_operations_through_the_engine(home: Path, tmp_path: Path) -> None:
    from tests.conftest import small_image_config

    with Engine(home) as engine:
        for _ in range(2):
            engine.train(small_image_config("digits", epochs=1))
        engine.promote("digits:1", "production", reason="first")
        assert [v.stage for v in engine.versions("digits")] == ["production", "candidate"]
        assert [v.ref for v in engine.lineage("digits:2")] == ["digits:2"]
        bundle = engine.export("digits@production", tmp_path / "d.tar")
        with pytest.raises(RegistryError, match="production version"):
            engine.delete("digits:1")
        assert engine.delete("digits:2", reason="not needed") == "digits:2"
        plot = engine.evaluate("digits:1", split="val").plots["confusion_matrix"]
        report = engine.verify()  # a later evaluation's plot is referenced, not an orphan
        assert report.clean and report.orphans == [] and engine.gc() == []
        assert plot.is_file()
    with Engine(tmp_path / "other") as other:
        imported = other.import_bundle(bundle, name="digits-copy")
        assert imported.ref == "digits-copy:1" and imported.source == "import"
        assert [e.action for e in other.history("digits-copy")] == ["import"]
