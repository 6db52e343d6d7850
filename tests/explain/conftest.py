"""Models trained once per session on real data (Rotten Tomatoes, Fashion-MNIST)."""

from __future__ import annotations

from pathlib import Path

import pytest

from neuroplast import Engine
from neuroplast.inference import LoadedModel
from tests.conftest import one_torch_thread, require_debian_data
from tests.explain._models import TEXT_MODELS, image_config, text_config


@pytest.fixture(scope="session")
def explain_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("explain-home")


@pytest.fixture(scope="session")
def text_models(explain_home: Path) -> dict[str, str]:
    """Architecture -> registered model ref, one small model per text architecture."""
    with one_torch_thread(), Engine(explain_home) as engine:
        return {a: engine.train(text_config(a)).version.ref for a in TEXT_MODELS}


@pytest.fixture(scope="session")
def image_model(explain_home: Path) -> str:
    require_debian_data("fashion_mnist")
    with one_torch_thread(), Engine(explain_home) as engine:
        return engine.train(image_config()).version.ref


def load(home: Path, ref: str) -> LoadedModel:
    with Engine(home) as engine:
        return engine.model_manager.get_loaded(ref)


@pytest.fixture(params=list(TEXT_MODELS))
def architecture(request: pytest.FixtureRequest) -> str:
    return str(request.param)
