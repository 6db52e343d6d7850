"""Open-set abstention: the within-class Mahalanobis distance from the streaming sums equals
the batch one, the answer-rate threshold by hand, and a learner trained without a class
abstains on it while answering the known ones, calibrated on known rows only."""

from __future__ import annotations

import pytest
import torch

from neuroplast.continual.neuromorphic.composer import AnswerComposer
from neuroplast.continual.neuromorphic.config import ComposerConfig
from neuroplast.continual.neuromorphic.learner import NeuromorphicLearner
from neuroplast.continual.neuromorphic.metric import Whitening
from neuroplast.continual.neuromorphic.persist import (
    learner_from_state,
    learner_meta,
    learner_tensors,
)
from neuroplast.continual.neuromorphic.run_config import NeuroRunConfig
from neuroplast.errors import ConfigError, DataError

DIM = 12
CENTRES = torch.nn.functional.normalize(
    torch.randn(5, DIM, generator=torch.Generator().manual_seed(3)), dim=1
)


def _cluster(c: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    noise = torch.randn(n, DIM, generator=torch.Generator().manual_seed(100 * c + seed))
    return torch.nn.functional.normalize(3 * CENTRES[c] + 0.6 * noise, dim=1), torch.full((n,), c)


def test_class_distances_equal_the_batch_within_class_mahalanobis() -> None:
    xs, ys = zip(*(_cluster(c, 60, 0) for c in range(3)), strict=True)
    x, y = torch.cat(xs).double(), torch.cat(ys)
    w = Whitening(DIM, 1e-6)
    for rows in (slice(0, 50), slice(50, 51), slice(51, None)):  # chunks across classes
        w.update(x[rows], y[rows])
    means = torch.stack([x[y == c].mean(0) for c in range(3)])
    within = sum((x[y == c] - means[c]).T @ (x[y == c] - means[c]) for c in range(3)) / (180 - 3)
    q = torch.rand(4, DIM, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    diff = q[:, None, :] - means[None]
    expect = torch.einsum("nkd,de,nke->nk", diff, torch.linalg.inv(within), diff)
    torch.testing.assert_close(w.class_distances(q).double(), expect, rtol=2e-3, atol=1e-3)
    background = torch.einsum("nd,de,ne->n", q - x.mean(0), torch.linalg.inv(within), q - x.mean(0))
    torch.testing.assert_close(w.background(q).double(), background, rtol=2e-3, atol=1e-3)
    back = Whitening.from_state(w.state_dict(), w.meta())
    torch.testing.assert_close(back.class_distances(q), w.class_distances(q), rtol=1e-4, atol=1e-3)
    unlabelled = Whitening(DIM, 0.1)
    unlabelled.update(x)
    with pytest.raises(DataError, match="with its label"):
        unlabelled.class_distances(q)
    with pytest.raises(DataError, match="labels >= 0"):
        w.update(x[:2], torch.tensor([0, -1]))


def test_answer_rate_threshold_by_hand() -> None:
    composer = AnswerComposer(ComposerConfig())
    assert composer.calibrate_rate([-5.0, -1.0, -3.0, -2.0, -4.0], 0.6) == -3.0  # 3 of 5
    assert composer.calibrate_rate([0.2, 0.9], 1.0) == 0.2
    with pytest.raises(DataError, match=r"answer_rate must be in \(0, 1\]"):
        composer.calibrate_rate([1.0], 0.0)
    with pytest.raises(DataError, match="NaN or infinite"):
        composer.calibrate_rate([1.0, float("nan")], 0.5)


def _learner(rule: str) -> NeuromorphicLearner:
    cfg = NeuroRunConfig.model_validate({
        "prototype_manager": {"similarity": "whitened", "similarity_threshold": -1.0,
                              "momentum": 0.999, "mean_warmup": True,
                              "indexing_backend": "brute"},
        "composer": {"abstain_on": rule, "answer_rate": 0.9, "calibration_rows_per_class": 25},
        "snn": {"stdp_lr": 0.0, "input_offset": 0.9, "input_gain": 5.0},
        "training": {"calibration_fraction": 0.2},
    })  # fmt: skip
    learner = NeuromorphicLearner(cfg, class_names=list("abcde"))
    for task in ((0, 1), (2, 3)):  # class 4 is withheld
        xs, ys = zip(*(_cluster(c, 150, 0) for c in task), strict=True)
        learner.fit_concepts(torch.cat(xs), torch.cat(ys))
    return learner


@pytest.mark.parametrize("rule", ["distance", "relative_distance"])
def test_a_withheld_class_is_abstained_on_and_known_ones_answered(rule: str) -> None:
    learner = _learner(rule)
    assert len(learner.held[1]) == 4 * 25  # 30 held out a class, 25 kept
    known = learner.score_concepts(torch.cat([_cluster(c, 100, 1)[0] for c in range(4)]))
    unknown = learner.score_concepts(_cluster(4, 100, 1)[0])
    assert 0.8 <= float((~known.abstained).float().mean()) <= 1.0
    assert float(unknown.abstained.float().mean()) >= 0.9  # 1.00 and 0.94 when written
    back = learner_from_state(learner_tensors(learner), learner_meta(learner))
    assert back.threshold == learner.threshold
    assert torch.equal(back.held[1], learner.held[1])
    assert torch.equal(back.score_concepts(_cluster(4, 100, 1)[0]).abstained, unknown.abstained)


def test_distance_abstention_needs_the_whitened_metric() -> None:
    from neuroplast.continual.neuromorphic.run_config import parse_neuro_config

    with pytest.raises(ConfigError, match="similarity: whitened"):
        parse_neuro_config({"composer": {"abstain_on": "distance"}})
