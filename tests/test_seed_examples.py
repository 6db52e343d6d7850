"""The seed engine's Quick Start and Advanced Usage examples (``seeds/000_*``), run as its
users would write them: the code of each example is the seed's, with only its import line
changed to neuroplast's.

What the seed leaves undefined is given here: ``DL_ENGINE`` (the seed's module-level engine;
neuroplast creates none at import, so the test's Engine on a temporary home stands in), and
the data it assumes the user has: ``test_input`` and ``old_task_dataloader`` are real Rotten
Tomatoes reviews tokenized into token ids (``load_builtin("rotten_tomatoes", limit=...)``),
``main_loss`` the model's loss on one of their batches, ``num_epochs`` 1. Example 3 (the
conversation analysis of SarahMemory's chat database) is not an Engine API and is not run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from neuroplast import Engine
from tests.conftest import one_torch_thread

# ---- the seed's examples, verbatim but for the import lines ------------------------------------

QUICK_START_1 = """
from neuroplast import ModelType, TaskType
import torch
from torch.utils.data import DataLoader, TensorDataset

# Prepare dummy data
vocab_size = 10000
num_samples = 1000
seq_length = 50
num_classes = 5

# (the seed's four torch.randint lines: real reviews instead, see reviews())
X_train, y_train, X_val, y_val = reviews(vocab_size, seq_length)
train_dataset = TensorDataset(X_train, y_train)
train_loader = DataLoader(train_dataset, batch_size=32, shuffle=True)

# Create validation data
val_dataset = TensorDataset(X_val, y_val)
val_loader = DataLoader(val_dataset, batch_size=32)

# Configure model
config = {
    'vocab_size': vocab_size,
    'num_classes': num_classes,
    'embedding_dim': 256,
    'hidden_dim': 128,
    'num_layers': 2,
    'dropout': 0.3
}

# Create and train model
model_id = DL_ENGINE.create_and_train_model(
    model_name="sentiment_classifier",
    model_type=ModelType.LSTM,
    task_type=TaskType.SENTIMENT_ANALYSIS,
    train_data=train_loader,
    val_data=val_loader,
    config=config
)

print(f"Model trained successfully! Model ID: {model_id}")
"""

QUICK_START_2 = """
# (the seed imports DL_ENGINE here)

# Get model information
model_info = DL_ENGINE.get_model_info(model_id)
print(f"Model: {model_info['model_name']}")
print(f"Architecture: {model_info['architecture']}")
print(f"Parameters: {model_info['parameters_count']:,}")

# Get model for inference
model = DL_ENGINE.model_manager.get_model(model_id)
model.eval()

# Run inference
with torch.no_grad():
    outputs = model(test_input)
    predictions = outputs.argmax(dim=1)
"""

CONTINUAL_EWC = """
# (the seed imports DL_ENGINE here)

# After training on first task, compute Fisher Information
fisher_info = DL_ENGINE.continual_learner.compute_fisher_information(
    model_id,
    old_task_dataloader
)

# Save current parameters
old_params = {
    name: param.clone()
    for name, param in model.named_parameters()
}

# Train on new task with EWC regularization
# (In training loop, add EWC loss to main loss)
ewc_penalty = DL_ENGINE.continual_learner.ewc_loss(
    model_id,
    old_params,
    lambda_ewc=0.4
)
total_loss = main_loss + ewc_penalty
"""

MODEL_OPTIMIZATION = """
# (the seed imports DL_ENGINE here)

# Quantize model for faster inference
DL_ENGINE.optimizer.quantize_model(model_id, quantization_type='dynamic')

# Prune model weights (remove 30% of weights)
DL_ENGINE.optimizer.prune_model(model_id, amount=0.3)
"""

EXPLAINABLE_AI = """
# (the seed imports DL_ENGINE here)
import torch

# Get attention weights from transformer
test_input = torch.randint(0, vocab_size, (1, seq_length))
attention_weights = DL_ENGINE.explainer.get_attention_weights(model_id, test_input)

# Compute feature importance
target_class = 2
importance = DL_ENGINE.explainer.compute_feature_importance(
    model_id,
    test_input,
    target_class
)
print("Most important features:", importance.topk(10))
"""

CUSTOM_TRAINING_LOOP = """
from neuroplast import ModelMetrics

# Get model and optimizer
model = DL_ENGINE.model_manager.get_model(model_id)
optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
criterion = torch.nn.CrossEntropyLoss()

# Training loop
for epoch in range(num_epochs):
    model.train()
    total_loss = 0

    for batch_idx, (inputs, targets) in enumerate(train_loader):
        inputs, targets = inputs.to(device), targets.to(device)

        optimizer.zero_grad()
        outputs = model(inputs)

        if isinstance(outputs, tuple):
            outputs = outputs[0]

        loss = criterion(outputs, targets)
        loss.backward()

        # Gradient clipping
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)

        optimizer.step()
        total_loss += loss.item()

    # Log metrics
    metrics = ModelMetrics(
        epoch=epoch,
        train_loss=total_loss / len(train_loader),
        learning_rate=optimizer.param_groups[0]['lr']
    )

    DL_ENGINE.training_engine._save_training_metrics(model_id, metrics)
"""


# ---- what the seed assumes the user has ---------------------------------------------------------

REVIEWS = 300  # real Rotten Tomatoes reviews: 240 to train on, 60 to validate on


def review_ids(
    vocab_size: int, seq_length: int, rows: int = REVIEWS
) -> tuple[torch.Tensor, torch.Tensor]:
    """``rows`` real Rotten Tomatoes reviews as token ids ``[rows, seq_length]`` (PAD = 0,
    a vocabulary of at most ``vocab_size`` ids built on them) and their labels."""
    from neuroplast.data import TextData, Vocabulary, load_builtin

    data = load_builtin("rotten_tomatoes", limit=rows, seed=0)
    assert isinstance(data, TextData)
    vocab = Vocabulary.build(data.texts, max_size=vocab_size)
    x = torch.zeros((len(data.texts), seq_length), dtype=torch.long)
    for row, ids in enumerate(vocab.encode_batch(data.texts, max_length=seq_length)):
        x[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return x, torch.from_numpy(data.labels)


def reviews(vocab_size: int, seq_length: int) -> tuple[torch.Tensor, ...]:
    """``X_train, y_train, X_val, y_val`` of the seed's example 1, from real reviews."""
    x, y = review_ids(vocab_size, seq_length)
    return x[:240], y[:240], x[240:], y[240:]


def _run(block: str, namespace: dict[str, Any]) -> None:
    exec(compile(block, "seeds/000 (the seed engine's README)", "exec"), namespace)


@pytest.fixture()
def seed(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with one_torch_thread(), Engine(tmp_path / "home") as engine:
        yield {"__name__": "__seed__", "DL_ENGINE": engine, "reviews": reviews}


@pytest.mark.slow
def test_the_seed_quick_start_and_advanced_usage_run_end_to_end(seed: dict[str, Any]) -> None:
    from torch.utils.data import DataLoader, TensorDataset

    engine: Engine = seed["DL_ENGINE"]
    _run(QUICK_START_1, seed)
    model_id = seed["model_id"]
    assert model_id == "sentiment_classifier:1"
    history = engine.training_engine.training_history[model_id]
    assert 1 <= len(history) <= 10 and all(math.isfinite(m.train_loss) for m in history)
    assert history[-1].val_accuracy is not None

    x, y = review_ids(seed["vocab_size"], seed["seq_length"])
    seed["test_input"] = x[-4:]
    _run(QUICK_START_2, seed)
    info = seed["model_info"]
    assert (info["model_name"], info["architecture"]) == ("sentiment_classifier", "lstm")
    assert info["parameters_count"] == sum(p.numel() for p in seed["model"].parameters())
    assert seed["outputs"].shape == (4, 5) and seed["predictions"].shape == (4,)

    seed["old_task_dataloader"] = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=32)
    seed["main_loss"] = torch.nn.functional.cross_entropy(seed["model"](x[:32]), y[:32])
    _run(CONTINUAL_EWC, seed)
    fisher = seed["fisher_info"]
    assert set(fisher) == {n for n, _ in seed["model"].named_parameters()}
    assert float(fisher["classifier.bias"].sum()) > 0
    # the weights have not moved since the Fisher was computed: no penalty yet
    assert float(seed["ewc_penalty"].detach()) == 0.0
    assert float(seed["total_loss"].detach()) == pytest.approx(float(seed["main_loss"].detach()))

    _run(MODEL_OPTIMIZATION, seed)
    versions = engine.versions("sentiment_classifier")
    assert [(v.ref, v.source) for v in versions] == [
        ("sentiment_classifier:1", "api"),
        ("sentiment_classifier:2", "compress"),
        ("sentiment_classifier:3", "compress"),
    ]
    for version, technique in zip(
        versions[1:], ["dynamic int8", "pruned 30% unstructured"], strict=True
    ):
        parent, row = version.metrics["compression_table"]
        assert row["technique"] == technique and parent["technique"] == "fp32 (parent)"
        # size and speed measured on 128 inputs shaped like the training batches, no accuracy
        assert row["samples"] == 128 and row["latency_p50_ms"] > 0 and row["size_mb"] > 0
        assert row["accuracy"] is None and row["f1_macro"] is None
    assert versions[1].metrics["compression_table"][1]["size_ratio"] > 1.1  # int8 LSTM, Linear
    assert engine.optimizer.last is not None
    assert any("accuracy not measured: pass data=" in n for n in engine.optimizer.last.notes)

    _run(EXPLAINABLE_AI, seed)
    (weights,) = seed["attention_weights"]  # the LSTM's attention pooling over 50 tokens
    assert weights.shape == (1, 50) and float(weights.sum()) == pytest.approx(1.0, abs=1e-5)
    importance = seed["importance"]
    assert importance.shape == (1, 50) and float(importance.abs().sum()) > 0

    seed.update(num_epochs=1, device=torch.device("cpu"))
    _run(CUSTOM_TRAINING_LOOP, seed)
    assert engine.training_engine.training_history[model_id][-1] is seed["metrics"]
    assert seed["metrics"].epoch == 0 and math.isfinite(seed["metrics"].train_loss)


# ---- beyond the seed's lines: the same API on such models, with and without data= -------------


def test_models_trained_on_the_callers_loaders_compress_export_and_explain(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    from sklearn.metrics import f1_score
    from torch.utils.data import DataLoader, TensorDataset

    from neuroplast.errors import DataError
    from neuroplast.inference import OnnxPredictor

    engine: Engine = seed["DL_ENGINE"]
    x, y = review_ids(2000, 24)
    train = DataLoader(TensorDataset(x[:240], y[:240]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[240:], y[240:]), batch_size=32)
    config = {"vocab_size": 2000, "num_classes": 2, "embedding_dim": 16, "num_filters": 8}
    ref = engine.create_and_train_model("ids-cnn", "cnn", "sentiment_analysis", train, val, config)
    recorded = engine.model_manager.get_loaded(ref).meta.preprocessing["inputs"]
    assert recorded["kind"] == "token_ids" and recorded["shape"] == [24]
    assert recorded["dtype"] == "int64" and len(recorded["sample"]) == 8
    rows = {tuple(r) for r in x[:240].tolist()}
    assert all(tuple(r) in rows for r in recorded["sample"])  # rows of a real training batch

    # data= gives the accuracy: the parent's figures are the model's own on those batches
    quantized = engine.optimizer.quantize_model(ref, quantization_type="dynamic", data=val)
    parent, row = engine.optimizer.last.table  # type: ignore[union-attr]
    model = engine.model_manager.get_model(ref).eval()
    with torch.no_grad():
        predicted = model(x[240:]).argmax(dim=1)
    assert parent["samples"] == row["samples"] == 60
    assert parent["accuracy"] == pytest.approx(float((predicted == y[240:]).float().mean()))
    assert parent["f1_macro"] == pytest.approx(f1_score(y[240:], predicted, average="macro"))
    assert row["accuracy_change"] == pytest.approx(row["accuracy"] - parent["accuracy"])
    assert not any("accuracy not measured" in n for n in engine.optimizer.last.notes)  # type: ignore[union-attr]
    assert engine.get_model_info(quantized)["source"] == "compress"

    # ONNX from the recorded shape: the graph gives the torch model's logits
    exported = engine.optimizer.export_onnx(ref)
    onnx = engine.registry.resolve(exported).artifacts["model.onnx"].path.read_bytes()
    meta = engine.model_manager.get_loaded(ref).meta
    logits = OnnxPredictor(onnx, meta, None).run_logits(x[240:].numpy())
    with torch.no_grad():
        expected = model(x[240:]).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
    last = engine.optimizer.last_export
    assert last is not None and last.table[0]["accuracy"] is None
    assert any("accuracy not measured: pass data=" in n for n in last.notes)

    # explanations take token ids as a tensor or lists; raw text needs a vocabulary
    ids = x[240]
    as_tensor = engine.explainer.compute_feature_importance(ref, ids, 1, method="saliency")
    as_list = engine.explainer.compute_feature_importance(ref, ids.tolist(), 1, method="saliency")
    torch.testing.assert_close(as_list, as_tensor)
    batch = engine.explainer.compute_feature_importance(ref, [ids.tolist()], 1, method="saliency")
    torch.testing.assert_close(batch[0], as_tensor)
    with pytest.raises(DataError, match=r"no vocabulary .* pass token ids"):
        engine.explainer.compute_feature_importance(ref, "a witty film", 1)

    # continual update needs the old task's data: one clear error, before reading the file
    with pytest.raises(DataError, match=r"trained through the Python API .* ewc_loss"):
        engine.continual_learner.update(ref, tmp_path / "new.csv")


def test_static_int8_of_an_api_image_model_calibrates_on_data(seed: dict[str, Any]) -> None:
    from torch.utils.data import DataLoader, TensorDataset

    from neuroplast.data import ImageData, load_builtin
    from neuroplast.errors import ConfigError

    engine: Engine = seed["DL_ENGINE"]
    digits = load_builtin("digits", limit=400, seed=0)
    assert isinstance(digits, ImageData)
    images = torch.from_numpy(digits.images)
    x, y = (images.float() / 255 - 0.5) / 0.5, torch.from_numpy(digits.labels)
    train = DataLoader(TensorDataset(x[:300], y[:300]), batch_size=50, shuffle=True)
    val = DataLoader(TensorDataset(x[300:], y[300:]), batch_size=50)
    config = {"num_classes": 10, "image_size": 8, "in_channels": 1, "hidden_dim": 32}
    ref = engine.create_and_train_model(
        "digits-api",
        "image_mlp",
        "image_classification",
        train,
        val,
        config,
        num_epochs=5,
        optimizer_config={"lr": 0.01},
    )
    recorded = engine.model_manager.get_loaded(ref).meta.preprocessing["inputs"]
    assert recorded == {"dtype": "float32", "shape": [1, 8, 8], "kind": "image"}
    with pytest.raises(ConfigError, match=r"static int8 calibrates .* pass data="):
        engine.optimizer.quantize_model(ref, quantization_type="static")
    static = engine.optimizer.quantize_model(ref, quantization_type="static", data=val)
    parent, row = engine.optimizer.last.table  # type: ignore[union-attr]
    assert parent["accuracy"] > 0.5 and row["accuracy"] >= parent["accuracy"] - 0.05
    # the stored int8 state is served: the same predictions as the table measured
    served = engine.predictor(static).predict_proba(digits.images[300:]).argmax(axis=1)
    accuracy = float(np.mean(served == digits.labels[300:]))
    assert accuracy == pytest.approx(row["accuracy"])
