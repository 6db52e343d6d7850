"""The method registry drives these tests: every registered method of each modality runs on
every text model (or the image model) that supports it, and a method added by one class with
one decorator is listed and used without touching the explainers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from neuroplast.errors import ConfigError
from neuroplast.explain import (
    IMAGE_METHODS,
    TEXT_METHODS,
    ExplainMethod,
    TextExplainer,
    TextScores,
    _methods,
    get_method,
    list_methods,
    register_method,
)
from tests.explain.conftest import load


def test_the_listings_come_from_the_registry() -> None:
    assert list_methods("text") == TEXT_METHODS
    assert list_methods("image") == IMAGE_METHODS
    assert set(list_methods()) == set(TEXT_METHODS) | set(IMAGE_METHODS)
    for name in TEXT_METHODS:
        assert get_method(name, "text").name == name and get_method(name, "text").help
    for name in IMAGE_METHODS:
        assert get_method(name, "image").name == name and get_method(name, "image").help


@pytest.mark.parametrize("modality", ["text", "image"])
def test_an_unknown_method_names_the_known_ones(modality: str) -> None:
    with pytest.raises(ConfigError, match=r"unknown method 'nope'.*choose one of ") as info:
        get_method("nope", modality)  # type: ignore[arg-type]
    for name in list_methods(modality):  # type: ignore[arg-type]
        assert name in str(info.value)


def test_the_registry_loads_without_torch() -> None:
    code = (
        "import sys; from neuroplast.explain._methods import list_methods; "
        "assert list_methods('text'); assert 'torch' not in sys.modules, 'torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("method", list_methods("text"))
def test_every_text_method_scores_every_token(
    explain_home: Path, text_models: dict[str, str], architecture: str, method: str
) -> None:
    explainer = TextExplainer(load(explain_home, text_models[architecture]))
    if method not in explainer.methods:
        with pytest.raises(ConfigError):
            explainer.check_method(method)
        return
    (e,) = explainer.explain(["a gorgeous , witty and moving film"], method=method)
    assert e.scores.shape == (len(e.ids),) and np.isfinite(e.scores).all()
    assert np.abs(e.scores).max() > 0
    assert e.signed == get_method(method, "text").signed


@pytest.fixture()
def doubled_saliency() -> Iterator[str]:
    @register_method("test_double_saliency", modalities=("text",), rank=50, help="for a test")
    class DoubleSaliency(ExplainMethod):
        def text(self, explainer: TextExplainer, batch: Tensor, target: Tensor) -> TextScores:
            scores = get_method("saliency", "text").text(explainer, batch, target).scores
            return TextScores(2 * scores)

    yield DoubleSaliency.name
    del _methods._METHODS[DoubleSaliency.name]


def test_a_new_method_is_one_decorated_class(
    explain_home: Path, text_models: dict[str, str], doubled_saliency: str
) -> None:
    explainer = TextExplainer(load(explain_home, text_models["cnn"]))
    assert doubled_saliency in explainer.methods
    text = ["a gorgeous , witty and moving film"]
    (new,) = explainer.explain(text, method=doubled_saliency)
    (old,) = explainer.explain(text, method="saliency")
    torch.testing.assert_close(torch.tensor(new.scores), 2 * torch.tensor(old.scores))
