"""The neuromorphic sections keep seed 003's key names and reject what they do not know."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from neuroplast.continual.neuromorphic.config import (
    ComposerConfig,
    ConceptEncoderConfig,
    PrototypeManagerConfig,
    SNNConfig,
)


def test_the_seed_keys_are_accepted() -> None:
    enc = ConceptEncoderConfig.model_validate(
        {
            "encoder_type": "minilm",
            "projection_dim": 256,
            "freeze_backbone": True,
            "contrastive_temperature": 0.07,
        }
    )
    assert enc.backbone == "minilm" and enc.projection_dim == 256
    pm = PrototypeManagerConfig.model_validate(
        {
            "max_prototypes": 5000,
            "similarity_threshold": 0.85,
            "indexing_backend": "faiss",
            "maintenance_interval": 1000,
        }
    )
    assert pm.indexing_backend == "faiss" and pm.maintenance_interval == 1000
    snn = SNNConfig.model_validate(
        {"neuron_type": "alif", "num_timesteps": 20, "stdp_lr": 0.01, "reward_modulation": True}
    )
    assert snn.neuron_type == "alif"
    assert ComposerConfig().threshold is None


@pytest.mark.parametrize(
    ("cls", "data", "match"),
    [
        (SNNConfig, {"neuron_typ": "lif"}, "neuron_typ"),
        (SNNConfig, {"neuron_type": "izhikevich"}, "neuron_type"),
        (PrototypeManagerConfig, {"indexing_backend": "hnsw"}, "indexing_backend"),
        (PrototypeManagerConfig, {"momentum": 1.0}, "momentum"),
        (ConceptEncoderConfig, {"encoder_type": "cnn"}, "model_ref"),
        (ComposerConfig, {"target_risk": 0.0}, "target_risk"),
    ],
)
def test_bad_values_are_refused_with_the_key(cls: type, data: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        cls.model_validate(data)
