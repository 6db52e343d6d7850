"""Token attributions on real models: the numbers each method promises, batching, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neuroplast.errors import ConfigError, DataError
from neuroplast.explain import TextExplainer, select_texts
from neuroplast.models import logits_of
from tests.explain._data import split_texts
from tests.explain.conftest import load


@pytest.fixture()
def explainer(explain_home: Path, text_models: dict[str, str], architecture: str) -> TextExplainer:
    return TextExplainer(load(explain_home, text_models[architecture]))


def test_integrated_gradients_are_complete_on_real_reviews(explainer: TextExplainer) -> None:
    texts = split_texts(explainer.loaded, 40)
    explanations = explainer.explain(texts, method="ig")
    errors = [e.relative_delta for e in explanations]
    assert all(err is not None and err <= 0.05 for err in errors), max(e or 0 for e in errors)
    for e in explanations[:5]:  # the sum of the scores is f(x) - f(PAD baseline)
        assert e.delta is not None and e.logit_gap is not None
        assert float(e.scores.sum()) == pytest.approx(e.logit_gap + e.delta, abs=1e-3)


def test_occlusion_scores_are_the_logit_drop_of_zeroing_a_token(explainer: TextExplainer) -> None:
    (e,) = explainer.explain(["a gorgeous , witty and moving film"], method="occlusion")
    ids = torch.tensor([e.ids])
    model = explainer.model
    with torch.no_grad():
        full = logits_of(model(ids))[0, e.target]
        for position in (0, 2, len(e.ids) - 1):
            handle = model.embedding.register_forward_hook(
                lambda _m, _i, out, p=position: out.index_fill(1, torch.tensor([p]), 0.0)
            )
            try:
                occluded = logits_of(model(ids))[0, e.target]
            finally:
                handle.remove()
            assert e.scores[position] == pytest.approx(float(full - occluded), abs=1e-4)


def test_saliency_is_the_gradient_norm_per_token(explainer: TextExplainer) -> None:
    (e,) = explainer.explain(["the plot is thin but the acting is superb"], method="saliency")
    ids = torch.tensor([e.ids])
    embedded = explainer.model.embedding(ids).detach().requires_grad_()
    handle = explainer.model.embedding.register_forward_hook(lambda _m, _i, _o: embedded)
    try:
        logits_of(explainer.model(ids))[0, e.target].backward()
    finally:
        handle.remove()
    assert embedded.grad is not None
    expected = embedded.grad[0].norm(dim=-1).numpy()
    np.testing.assert_allclose(e.scores, expected, rtol=1e-4, atol=1e-6)
    assert (e.scores >= 0).all() and not e.signed


def test_batching_and_padding_do_not_change_scores(explainer: TextExplainer) -> None:
    texts = split_texts(explainer.loaded, 12)
    together = explainer.explain(texts, method="input_x_gradient")
    alone = explainer.explain([texts[3]], method="input_x_gradient")[0]
    np.testing.assert_allclose(together[3].scores, alone.scores, rtol=1e-3, atol=1e-5)


def test_attention_scores_are_distributions_over_real_tokens(
    explain_home: Path, text_models: dict[str, str]
) -> None:
    for architecture in ("lstm", "hybrid", "transformer"):
        explainer = TextExplainer(load(explain_home, text_models[architecture]))
        texts = split_texts(explainer.loaded, 6)
        for e in explainer.explain(texts, method="attention"):
            assert float(e.scores.sum()) == pytest.approx(1.0, abs=1e-4), architecture
            assert (e.scores >= 0).all()


def test_a_target_class_can_be_named_or_numbered(explainer: TextExplainer) -> None:
    text = ["an uneven but often funny comedy"]
    by_name = explainer.explain(text, method="input_x_gradient", target="rotten")[0]
    by_index = explainer.explain(text, method="input_x_gradient", target=0)[0]
    other = explainer.explain(text, method="input_x_gradient", target=1)[0]
    assert by_name.target_label == "rotten" and by_index.target == 0
    np.testing.assert_allclose(by_name.scores, by_index.scores)
    # two classes: d(logit_0)/dx and d(logit_1)/dx differ, so the scores must too
    assert not np.allclose(by_name.scores, other.scores)


def test_select_texts_skips_short_and_unknown_texts(explainer: TextExplainer) -> None:
    ids = select_texts(
        explainer, ["", "qzxv wrrpt", "ok", *split_texts(explainer.loaded, 20)], 5, min_tokens=4
    )
    assert len(ids) == 5 and all(len(i) >= 4 for i in ids)


# ---- bad input ---------------------------------------------------------------------------
def test_bad_inputs_get_clear_errors(explain_home: Path, text_models: dict[str, str]) -> None:
    cnn = TextExplainer(load(explain_home, text_models["cnn"]))
    with pytest.raises(DataError, match="text 1 is empty"):
        cnn.explain(["   "])
    with pytest.raises(DataError, match=r"text 2 .* only words the model never saw"):
        cnn.explain(["a good film", "qzxv wrrpt blorf"])
    with pytest.raises(DataError, match=r"target class 5 is out of range: this model has 2"):
        cnn.explain(["a good film"], target=5)
    with pytest.raises(DataError, match="not a label of this model"):
        cnn.explain(["a good film"], target="neutral")
    with pytest.raises(ConfigError, match="a cnn model has no attention layers"):
        cnn.explain(["a good film"], method="attention")
    with pytest.raises(ConfigError, match="unknown method 'gradcam' for a text model"):
        cnn.explain(["a good film"], method="gradcam")
    with pytest.raises(DataError, match="nothing to explain"):
        cnn.explain([])


def test_attention_rollout_follows_the_residual_mix() -> None:
    from neuroplast.explain import attention_rollout

    real = torch.tensor([[True, True, False]])
    # one layer, one head: both real queries attend only to token 1
    layer = torch.tensor([[[[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]]]])
    rollout = attention_rollout([layer], real)
    # 0.5 * attention + 0.5 * identity, per real query row; the padded key gets nothing
    expected = torch.tensor([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    torch.testing.assert_close(rollout[0, :2], expected)
    two = attention_rollout([layer, layer], real)  # layers multiply
    torch.testing.assert_close(two[0, 0, :2], torch.tensor([0.25, 0.75]))
