"""The deletion test and completeness, computed for real on small models and real reviews."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuroplast.errors import DataError
from neuroplast.explain import TextExplainer, delete_tokens, select_texts, text_checks
from neuroplast.explain.faithfulness import packs_sequences
from tests.explain._data import split_texts
from tests.explain.conftest import load


def test_delete_tokens_in_place_or_compacted() -> None:
    assert delete_tokens([5, 6, 7, 8], [1, 3], compact=False) == [5, 0, 7, 0]
    assert delete_tokens([5, 6, 7, 8], [1, 3], compact=True) == [5, 7, 0, 0]
    assert delete_tokens([5, 6, 7, 8], np.array([0]), compact=True) == [6, 7, 8, 0]


def test_recurrent_models_are_compacted(explain_home: Path, text_models: dict[str, str]) -> None:
    packs = {a: packs_sequences(load(explain_home, ref).model) for a, ref in text_models.items()}
    assert packs == {"cnn": False, "lstm": True, "transformer": False, "hybrid": True}


def test_deletion_test_on_real_reviews(
    explain_home: Path, text_models: dict[str, str], architecture: str
) -> None:
    explainer = TextExplainer(load(explain_home, text_models[architecture]))
    ids = select_texts(explainer, split_texts(explainer.loaded, 120), 50, min_tokens=4)
    checks = text_checks(explainer, ids, methods=["ig", "occlusion"], k=3, random_draws=3)
    assert [r.method for r in checks.deletion] == ["ig", "occlusion"]
    for r in checks.deletion:
        assert r.n == 50 and r.k == 3
        # the top tokens of both methods matter more than random ones, on every architecture
        assert r.top_drop > r.random_drop > -0.05, r
        assert r.passed and 0.5 < r.win_rate <= 1.0
    assert checks.deletion[0].random_drop == checks.deletion[1].random_drop  # shared baseline
    assert checks.completeness is not None and checks.completeness.passed
    assert checks.completeness.n == 50 and checks.completeness.max_relative <= 0.05


def test_top_drop_is_the_measured_probability_drop(
    explain_home: Path, text_models: dict[str, str]
) -> None:
    explainer = TextExplainer(load(explain_home, text_models["cnn"]))
    ids = select_texts(explainer, split_texts(explainer.loaded, 60), 20, min_tokens=4)
    (result,) = text_checks(explainer, ids, methods=["input_x_gradient"], k=2).deletion
    probs = explainer.predict_proba(ids)
    targets = probs.argmax(axis=1)
    scores, _, _ = explainer.attribute(ids, [int(t) for t in targets], "input_x_gradient")
    deleted = [
        delete_tokens(s, np.argsort(-sc, kind="stable")[:2], compact=False)
        for s, sc in zip(ids, scores, strict=True)
    ]
    after = explainer.predict_proba(deleted)[np.arange(len(ids)), targets]
    expected = float((probs[np.arange(len(ids)), targets] - after).mean())
    assert result.top_drop == pytest.approx(expected, abs=1e-6)


def test_deletion_needs_texts_longer_than_k(
    explain_home: Path, text_models: dict[str, str]
) -> None:
    explainer = TextExplainer(load(explain_home, text_models["cnn"]))
    _, ids = explainer.tokenize(["a good film", "a really good film indeed"])
    with pytest.raises(DataError, match="every text needs more than 3; text 1 has 3"):
        text_checks(explainer, ids, k=3)
    with pytest.raises(DataError, match="has 4 known tokens or more"):
        select_texts(explainer, ["ok", "fine"], 5, min_tokens=4)
