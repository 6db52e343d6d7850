"""The registry API: listing, lookup, config validation and the errors users see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import torch
from pydantic import ValidationError
from torch import Tensor, nn

from neuroplast.errors import ConfigError
from neuroplast.models import (
    ArchConfig,
    ModelSpec,
    _registry,
    count_parameters,
    create_model,
    get_spec,
    list_models,
    logits_of,
    register_model,
    validate_config,
)
from neuroplast.models.lstm import LSTMConfig
from neuroplast.models.transformer import TransformerConfig

from ._helpers import small_config


def test_builtin_architectures_by_modality() -> None:
    assert list_models("text") == ["cnn", "hybrid", "lstm", "minilm", "transformer"]
    assert list_models("image") == ["efficientnet-lite0", "image_cnn", "image_mlp", "image_vit"]
    assert list_models() == sorted(list_models("text") + list_models("image"))


def test_list_models_rejects_unknown_modality() -> None:
    with pytest.raises(ConfigError, match=r"unknown modality 'audio'.*text, image"):
        list_models("audio")


def test_spec_describes_the_architecture(model_name: str) -> None:
    spec = get_spec(model_name)
    assert isinstance(spec, ModelSpec)
    assert spec.name == model_name
    assert issubclass(spec.config_cls, ArchConfig)
    assert spec.model_cls.modality == spec.modality  # type: ignore[attr-defined]
    assert spec.description
    assert "num_classes" in spec.required_keys


def test_unknown_architecture_lists_the_registered_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown architecture 'lstn' \(did you mean 'lstm'"
    ) as e:
        create_model("lstn", {"num_classes": 2})
    for name in list_models():
        assert name in str(e.value)


def test_unknown_key_is_named_with_the_accepted_keys() -> None:
    config = {"vocab_size": 100, "num_classes": 2, "embed_dim": 64}
    with pytest.raises(
        ConfigError, match=r"unknown key 'embed_dim' \(did you mean 'embedding_dim'"
    ) as e:
        create_model("transformer", config)
    message = str(e.value)
    assert "\n" not in message
    assert isinstance(e.value.__cause__, ValidationError)
    accepted = message.split("Accepted keys:")[1]
    for key in TransformerConfig.model_fields:
        assert key in accepted


def test_missing_required_key() -> None:
    with pytest.raises(ConfigError, match=r"missing required key 'vocab_size'.*required: num_cl"):
        create_model("lstm", {"num_classes": 2})


def test_bad_value_says_what_was_given() -> None:
    with pytest.raises(
        ConfigError, match=r"'num_classes': Input should be greater than .*2 \(got 1\)"
    ):
        validate_config("cnn", {"vocab_size": 100, "num_classes": 1})


def test_heads_must_divide_embedding_dim() -> None:
    config = {"vocab_size": 100, "num_classes": 2, "embedding_dim": 130, "num_heads": 4}
    with pytest.raises(
        ConfigError, match=r"embedding_dim \(130\) must be divisible by num_heads \(4\); set embed"
    ):
        create_model("transformer", config)


def test_image_too_small_for_the_stages() -> None:
    with pytest.raises(ConfigError, match=r"image_size \(4\) is too small for 4 stages.*>= 8"):
        create_model("image_cnn", {"num_classes": 2, "image_size": 4, "channels": [8, 8, 8, 8]})


def test_filter_sizes_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"'filter_sizes.1': Input should be greater than 0"):
        validate_config("cnn", {"vocab_size": 100, "num_classes": 2, "filter_sizes": [3, 0]})


def test_config_of_another_architecture_is_rejected() -> None:
    config = TransformerConfig(vocab_size=100, num_classes=2)
    with pytest.raises(ConfigError, match=r"'lstm' needs a LSTMConfig, got a TransformerConfig"):
        create_model("lstm", config)


def test_validate_config_fills_defaults_and_leaves_the_input_alone() -> None:
    given = {"vocab_size": 100, "num_classes": 2, "filter_sizes": [2, 3]}
    copy = dict(given)
    config = validate_config("hybrid", given)
    assert given == copy
    assert config.model_dump()["filter_sizes"] == (2, 3)
    assert config.model_dump()["hidden_dim"] == 128
    with pytest.raises(ValidationError):
        config.num_classes = 5  # type: ignore[misc]


def test_create_model_accepts_a_typed_config() -> None:
    config = LSTMConfig(vocab_size=100, num_classes=4, hidden_dim=8)
    model = create_model("lstm", config)
    assert model.config is config
    assert count_parameters(model) > 0


def test_logits_of_takes_the_first_item_of_tuple_outputs() -> None:
    model = create_model("transformer", small_config("transformer")).eval()
    ids = torch.tensor([[4, 5, 6, 0]])
    with torch.no_grad():
        plain = model(ids)
        with_attention = model(ids, return_attention=True)
    assert logits_of(plain) is plain
    assert isinstance(with_attention, tuple)
    assert logits_of(with_attention) is with_attention[0]
    torch.testing.assert_close(logits_of(with_attention), plain)


def test_count_parameters() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert count_parameters(model) == 3 * 4 + 4 + 4 * 2 + 2
    model[0].requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 4 * 2 + 2
    shared = nn.Linear(2, 2)
    assert count_parameters(nn.Sequential(shared, shared)) == 6


class _TinyConfig(ArchConfig):
    width: int = 4


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    yield


@pytest.mark.usefixtures("isolated_registry")
def test_register_a_new_architecture() -> None:
    @register_model("tiny", modality="image", config=_TinyConfig, description="A test model.")
    class Tiny(nn.Module):
        def __init__(self, config: _TinyConfig) -> None:
            super().__init__()
            self.config = config
            self.linear = nn.Linear(config.width, config.num_classes)

        def forward(self, x: Tensor) -> Any:
            return self.linear(x)

    assert "tiny" in list_models("image")
    assert Tiny.modality == "image"  # type: ignore[attr-defined]
    model = create_model("tiny", {"num_classes": 3, "width": 5})
    assert isinstance(model, Tiny)
    assert model.config.width == 5


@pytest.mark.usefixtures("isolated_registry")
def test_register_refuses_a_taken_name_and_bad_arguments() -> None:
    class Other(nn.Module):
        modality: ClassVar[str] = "text"

    with pytest.raises(ConfigError, match=r"'lstm' is already registered by .*LSTMClassifier"):
        register_model("lstm", modality="text", config=_TinyConfig, description="x")(Other)
    with pytest.raises(ConfigError, match=r"declares modality 'text' but 'image' was given"):
        register_model("other", modality="image", config=_TinyConfig, description="x")(Other)
    with pytest.raises(ConfigError, match=r"modality 'audio' is not one of text, image"):
        register_model("x", modality="audio", config=_TinyConfig, description="x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"config must be a subclass of ArchConfig"):
        register_model("x", modality="text", config=dict, description="x")  # type: ignore[arg-type]


def test_small_config_helper_builds_every_model(model_name: str) -> None:
    model = create_model(model_name, small_config(model_name))
    assert isinstance(model.config, get_spec(model_name).config_cls)
