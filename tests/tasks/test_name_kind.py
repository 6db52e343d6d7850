"""A name keeps its kind of model: training a forecaster (or a generator) under a
classifier's name is refused before any training, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from neuroplast.errors import RegistryError
from neuroplast.registry import Registry
from neuroplast.registry.pages import runs_page
from neuroplast.tasks import task_handler
from tests.tasks.conftest import template_config


def _classifier(home: Path, name: str) -> None:
    with Registry(home) as registry:
        draft = registry.create_version(
            name, architecture="cnn", task="sentiment_analysis", modality="text", config={}
        )
        registry.finalize_version(draft.id, files={}, params_count=1)


@pytest.mark.parametrize(
    ("template", "task"), [("forecast", "forecasting"), ("textgen-lstm", "generation")]
)
def test_a_task_model_under_a_classifiers_name_is_refused_before_training(
    tmp_path: Path, template: str, task: str
) -> None:
    """The generator is refused before its tokenizer is fitted, the forecaster before its data."""
    _classifier(tmp_path, "rt")
    config = template_config(template, "name=rt")
    with Registry(tmp_path) as registry:
        with pytest.raises(
            RegistryError, match=f"'rt' holds classification models; this one is {task}"
        ):
            task_handler(task).train(config, registry)
        assert runs_page(registry, 1).items == []
        assert [v.version for v in registry.versions("rt")] == [1]
