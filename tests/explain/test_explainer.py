"""`engine.explainer`: the seed engine's names, by model id, on real trained models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from neuroplast import Engine
from neuroplast.errors import ConfigError, DataError
from neuroplast.explain import ImageExplainer, TextExplainer
from tests.explain._data import split_images
from tests.explain.conftest import load


@pytest.fixture()
def engine(explain_home: Path) -> Iterator[Engine]:
    with Engine(explain_home) as opened:
        yield opened


def test_transformer_attention_per_layer_and_head(
    engine: Engine, text_models: dict[str, str]
) -> None:
    ids = torch.tensor([[5, 17, 42, 9, 0, 0], [8, 3, 11, 12, 13, 14]])
    maps = engine.explainer.get_attention_weights(text_models["transformer"], ids)
    assert len(maps) == 2  # layers
    for layer in maps:
        assert layer.shape == (2, 2, 6, 6)  # batch, heads, queries, keys
        torch.testing.assert_close(layer.sum(dim=-1), torch.ones(2, 2, 6))
        assert float(layer[0, :, :, 4:].abs().max()) == 0.0  # padded keys get no attention


def test_lstm_attention_and_errors(engine: Engine, text_models: dict[str, str]) -> None:
    (weights,) = engine.explainer.get_attention_weights(text_models["lstm"], "a witty, moving film")
    assert weights.shape == (1, 5) and float(weights.sum()) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ConfigError, match="a cnn model has no attention layers"):
        engine.explainer.get_attention_weights(text_models["cnn"], "a witty film")


def test_feature_importance_matches_the_text_explainer(
    engine: Engine, explain_home: Path, text_models: dict[str, str]
) -> None:
    ref = text_models["cnn"]
    single = engine.explainer.compute_feature_importance(ref, "a witty, moving film", 1)
    (expected,) = TextExplainer(load(explain_home, ref)).explain(["a witty, moving film"], target=1)
    assert single.shape == (5,)
    np.testing.assert_allclose(single.numpy(), expected.scores, rtol=1e-4, atol=1e-6)
    ids = torch.tensor([[*expected.ids, 0, 0], [*expected.ids[:3], 0, 0, 0, 0]])
    batch = engine.explainer.compute_feature_importance(ref, ids, target_class="fresh")
    assert batch.shape == (2, 7) and float(batch[0, 5:].abs().sum()) == 0.0
    np.testing.assert_allclose(batch[0, :5].numpy(), expected.scores, rtol=1e-4, atol=1e-6)
    values, _ = batch[0].topk(3)
    assert float(values[0]) == pytest.approx(float(expected.scores.max()), rel=1e-4)
    with pytest.raises(DataError, match="target class 3 is out of range"):
        engine.explainer.compute_feature_importance(ref, ids, 3)
    with pytest.raises(DataError, match=r"token ids must lie in \[0, "):
        engine.explainer.compute_feature_importance(ref, torch.tensor([[10**7]]), 0)


def test_pixel_importance_and_activations_of_an_image_model(
    engine: Engine, explain_home: Path, image_model: str
) -> None:
    images, _ = split_images(load(explain_home, image_model), 4)
    heat = engine.explainer.compute_feature_importance(image_model, images, method="gradcam")
    assert heat.shape == (4, 28, 28) and float(heat.min()) >= 0.0
    one = engine.explainer.compute_feature_importance(image_model, images[0], method="gradcam")
    torch.testing.assert_close(one, heat[0], rtol=1e-4, atol=1e-6)
    stats = engine.explainer.layer_activations(image_model, images)
    relus = {name: s for name, s in stats.items() if s.kind == "ReLU"}
    # the same layers' outputs, recorded here with hooks of our own
    loaded = load(explain_home, image_model)
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: outputs.__setitem__(name, out.detach().clone())
        )
        for name, module in loaded.model.named_modules()
        if name in relus
    ]
    with torch.no_grad():
        loaded.model.eval()(ImageExplainer(loaded).normalize(images))
    for handle in handles:
        handle.remove()
    assert relus and set(outputs) == set(relus)
    for name, s in relus.items():
        out = outputs[name]
        assert s.shape == tuple(out.shape) and s.min == 0.0 == float(out.min())
        assert s.max == pytest.approx(float(out.max())) and s.max > 0
        assert s.mean == pytest.approx(float(out.mean()))
        assert s.zero_fraction == pytest.approx(float((out == 0).float().mean()))
        assert 0.0 < s.zero_fraction < 1.0  # some units off, some on
    assert stats["classifier"].shape == (4, 10)
    with pytest.raises(DataError, match="image models take images"):
        engine.explainer.compute_feature_importance(image_model, "a shoe")


def test_text_layer_activations(engine: Engine, text_models: dict[str, str]) -> None:
    stats = engine.explainer.layer_activations(text_models["lstm"], ["a witty film", "dull"])
    assert next(iter(stats)) == "embedding"
    assert stats["embedding"].shape == (2, 3, 32)
    assert stats["classifier"].shape == (2, 2)
    assert stats["lstm"].kind == "LSTM"  # packed output: its data, one row per real token
    assert stats["lstm"].shape == (4, 64)
