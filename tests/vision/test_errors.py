"""The most confident mistakes per class pair, on a hand-made probability table."""

from __future__ import annotations

import numpy as np
import pytest

from neuroplast.errors import DataError
from neuroplast.evaluation.errors import confident_mistakes, errors_html, errors_png


def _table() -> tuple[np.ndarray, np.ndarray]:
    probs = np.array(
        [
            [0.9, 0.05, 0.05],  # 0 right
            [0.2, 0.7, 0.1],  # true 0 -> 1 (0.7)
            [0.1, 0.85, 0.05],  # true 0 -> 1 (0.85)
            [0.3, 0.6, 0.1],  # true 0 -> 1 (0.6)
            [0.05, 0.05, 0.9],  # true 1 -> 2 (0.9)
            [0.1, 0.8, 0.1],  # 1 right
            [0.5, 0.2, 0.3],  # true 2 -> 0 (0.5)
            [0.6, 0.1, 0.3],  # true 2 -> 0 (0.6)
        ]
    )
    return probs, np.array([0, 0, 0, 0, 1, 1, 2, 2])


def test_pairs_by_frequency_and_mistakes_by_confidence() -> None:
    pairs = confident_mistakes(*_table(), per_pair=2)
    assert [(p.true, p.predicted, p.count) for p in pairs] == [(0, 1, 3), (2, 0, 2), (1, 2, 1)]
    assert [m.index for m in pairs[0].examples] == [2, 1]
    assert [m.confidence for m in pairs[0].examples] == [0.85, 0.7]
    assert len(confident_mistakes(*_table(), max_pairs=1)) == 1


def test_report_png_and_self_contained_html() -> None:
    probs, labels = _table()
    pairs = confident_mistakes(probs, labels)
    images = np.random.default_rng(0).integers(0, 256, (8, 1, 8, 8), dtype=np.uint8)
    heat = {m.index: np.ones((8, 8)) for p in pairs for m in p.examples}
    png = errors_png(images, pairs, heat, ["a", "b", "c"], method="gradcam")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    page = errors_html(pairs, png, ["a", "b", "c"], title="t", meta="m")
    assert "data:image/png;base64," in page and "http" not in page.replace("https://", "")
    assert "<td>a</td><td>b</td><td>3</td>" in page


def test_bad_inputs() -> None:
    with pytest.raises(DataError, match=r"probabilities \[N, K\] and N labels"):
        confident_mistakes(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(DataError, match="every image right"):
        errors_png(np.zeros((1, 1, 4, 4), np.uint8), [], {}, ["a"], method="ig")
