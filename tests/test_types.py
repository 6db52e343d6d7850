"""ModelType is the seed engine's names; the architecture registry is the list."""

from __future__ import annotations

from pathlib import Path

import pytest

from neuroplast import Engine, ModelType, TaskType
from neuroplast.models import list_models


def test_every_model_type_is_a_registered_architecture() -> None:
    from neuroplast.tasks import task_architectures

    assert {t.value for t in ModelType} <= set(list_models()) | set(task_architectures())
    assert ModelType.MLP == "image_mlp" and ModelType.CNN == "cnn"


@pytest.mark.parametrize("arch", list_models("text"))
def test_create_model_takes_any_registered_text_architecture(home: Path, arch: str) -> None:
    with Engine(home) as engine:
        model_id = engine.model_manager.create_model(
            f"t-{arch}", arch, TaskType.TEXT_CLASSIFICATION, {"vocab_size": 20, "num_classes": 2}
        )
        assert engine.model_manager.get_loaded(model_id).meta.architecture == arch


def test_an_unknown_model_type_lists_the_registered_ones(home: Path) -> None:
    with Engine(home) as engine, pytest.raises(ValueError, match="registered architectures: "):
        engine.model_manager.create_model("z", "rnn", TaskType.TEXT_CLASSIFICATION, {})
