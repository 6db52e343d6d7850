"""Small real models for the explain tests: trained once per session on real data."""

from __future__ import annotations

from typing import Any

from tests.conftest import require_debian_data

TEXT_MODELS: dict[str, dict[str, Any]] = {
    "cnn": {"embedding_dim": 32, "num_filters": 24},
    "lstm": {"embedding_dim": 32, "hidden_dim": 32},
    "transformer": {"embedding_dim": 32, "num_heads": 2, "num_layers": 2, "hidden_dim": 64},
    "hybrid": {"embedding_dim": 32, "num_filters": 16, "hidden_dim": 32},
}


def text_config(architecture: str) -> dict[str, Any]:
    """A model of ``architecture`` on 2,000 real Rotten Tomatoes reviews."""
    return {
        "name": f"rt-{architecture}",
        "task": "sentiment_analysis",
        "data": {
            "dataset": "rotten_tomatoes",
            "limit": 2000,
            "seed": 3,
            "max_length": 40,
            "vocab": {"max_size": 5000, "min_freq": 1},
        },
        "model": {"architecture": architecture, **TEXT_MODELS[architecture]},
        "train": {
            "epochs": 4,
            "batch_size": 32,
            "seed": 7,
            "optimizer": {"name": "adamw", "lr": 0.003},
            "early_stopping": {"patience": 5},
        },
    }


def image_config() -> dict[str, Any]:
    """A small image CNN on 3,000 real Fashion-MNIST images (skips where it is missing)."""
    require_debian_data("fashion_mnist")
    return {
        "name": "fm-cnn",
        "data": {"dataset": "fashion_mnist", "limit": 3000, "seed": 1},
        "model": {"architecture": "image_cnn", "channels": [8, 16, 32], "dropout": 0.1},
        "train": {"epochs": 3, "batch_size": 64, "seed": 5},
    }
