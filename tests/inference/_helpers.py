"""Small real models for the inference tests (seeded weights, real vocabularies)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch

from neuroplast.data import Vocabulary, load_builtin
from neuroplast.inference.bundle import LoadedModel
from neuroplast.inference.meta import META, ONNX, VOCAB, ModelMeta
from neuroplast.inference.onnx_export import export_onnx_bytes
from neuroplast.models import create_model
from neuroplast.registry.artifacts import atomic_write_bytes, atomic_write_json


@cache
def reviews() -> tuple[list[str], np.ndarray]:
    data = load_builtin("rotten_tomatoes", limit=800, seed=1)
    return list(data.texts), data.labels


def text_model(arch: str = "cnn") -> LoadedModel:
    texts, _ = reviews()
    vocab = Vocabulary.build(texts[:600], max_size=2000)
    config = {"vocab_size": len(vocab), "num_classes": 2, "embedding_dim": 32}
    torch.manual_seed(0)
    meta = ModelMeta(
        architecture=arch,
        modality="text",
        task="sentiment_analysis",
        arch_config=config,
        label_names=["fresh", "rotten"],
        preprocessing={"max_length": 40, "min_length": 5},
        name="rt",
    )
    return LoadedModel(create_model(arch, config).eval(), meta, vocab)


def image_model() -> LoadedModel:
    config = {"num_classes": 10, "image_size": 28, "in_channels": 1, "channels": [8, 16]}
    torch.manual_seed(0)
    meta = ModelMeta(
        architecture="image_cnn",
        modality="image",
        task="image_classification",
        arch_config=config,
        label_names=[str(i) for i in range(10)],
        preprocessing={"image_shape": [1, 28, 28], "mean": 0.5, "std": 0.5},
        name="fm",
    )
    return LoadedModel(create_model("image_cnn", config).eval(), meta, None)


def write_serving_dir(loaded: LoadedModel, directory: Path) -> Path:
    atomic_write_json(directory / META, loaded.meta.to_json())
    if loaded.vocab is not None:
        atomic_write_json(directory / VOCAB, loaded.vocab.to_dict())
    atomic_write_bytes(directory / ONNX, export_onnx_bytes(loaded.model, loaded.meta))
    return directory
