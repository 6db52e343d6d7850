"""ONNX fp32 matches eager PyTorch for every registered architecture (max abs logit diff).

Driven by ``list_models()``: a newly registered architecture is exported and compared here
without touching this file. Inputs are 200 real test inputs: Rotten Tomatoes reviews of
varied lengths (one padded batch, so masking is exercised, and one at a time) or
Fashion-MNIST test images.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import onnxruntime as ort
import pytest
import torch

from neuroplast.data import Vocabulary, load_builtin
from neuroplast.inference.meta import ModelMeta
from neuroplast.inference.onnx_export import export_onnx_bytes
from neuroplast.models import create_model, get_spec, list_models, logits_of
from tests.conftest import load_debian_data

TOLERANCE = 1e-4
#: Smaller than their defaults where that keeps the export path the same: EfficientNet-Lite0
#: resizes its inputs to ``resolution`` inside the model (224 by default; 64 takes a quarter
#: of a minute less here and exports the same graph).
SMALL = {"efficientnet-lite0": {"resolution": 64}}


@cache
def _texts() -> tuple[Vocabulary, list[list[int]]]:
    data = load_builtin("rotten_tomatoes", seed=0)
    train, test = data.texts[:3000], data.texts[-200:]
    vocab = Vocabulary.build(train, max_size=5000)
    return vocab, [vocab.encode(t, max_length=64) for t in test]


@cache
def _images() -> np.ndarray:
    data = load_debian_data("fashion_mnist", limit=2000, seed=0)
    assert data.test_mask is not None
    images = data.images[data.test_mask][:200]
    return ((images.astype(np.float32) / 255.0) - 0.5) / 0.5


def _model(name: str) -> tuple[torch.nn.Module, ModelMeta]:
    torch.manual_seed(0)
    modality = get_spec(name).modality
    if modality == "text":
        config = {"vocab_size": len(_texts()[0]), "num_classes": 2}
    else:
        config = {"num_classes": 10, "image_size": 28, "in_channels": 1}
    config.update(SMALL.get(name, {}))
    model = create_model(name, config).eval()
    meta = ModelMeta(
        architecture=name,
        modality=modality,
        task="classification",
        arch_config=config,
        label_names=[str(i) for i in range(config["num_classes"])],
        preprocessing={},
    )
    return model, meta


@pytest.mark.parametrize("name", list_models())
def test_onnx_matches_pytorch_on_200_real_inputs(name: str) -> None:
    model, meta = _model(name)
    session = ort.InferenceSession(
        export_onnx_bytes(model, meta), providers=["CPUExecutionProvider"]
    )
    if meta.modality == "text":
        ids = _texts()[1]
        lengths = [len(s) for s in ids]
        assert min(lengths) < 10 and max(lengths) >= 40, "inputs of varied lengths"
        batch = np.zeros((len(ids), max(lengths)), dtype=np.int64)
        for row, seq in enumerate(ids):
            batch[row, : len(seq)] = seq
        singles = [np.asarray([seq], dtype=np.int64) for seq in ids[:25]]
    else:
        batch = _images()
        singles = [batch[i : i + 1] for i in range(25)]
    assert len(batch) == 200
    with torch.inference_mode():
        expected = logits_of(model(torch.from_numpy(batch))).numpy()
        expected_singles = [logits_of(model(torch.from_numpy(x))).numpy() for x in singles]
    got = session.run(None, {"input": batch})[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= TOLERANCE
    # The logits differ between inputs: a constant output would also "match".
    assert np.ptp(expected[:, 0]) > 1e-3
    for x, want in zip(singles, expected_singles, strict=True):
        assert np.abs(session.run(None, {"input": x})[0] - want).max() <= TOLERANCE


def test_export_leaves_the_model_in_eval_mode() -> None:
    model, meta = _model("cnn")
    export_onnx_bytes(model, meta)
    assert not model.training
    assert not any(m.training for m in model.modules())
