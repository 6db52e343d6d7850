"""The answer composer: class distribution, abstention calibrated for a target risk (by
hand), the risk-coverage curve and the evidence."""

from __future__ import annotations

import math

import pytest
import torch

from neuroplast.continual.neuromorphic.composer import AnswerComposer, risk_coverage
from neuroplast.continual.neuromorphic.config import ComposerConfig, PrototypeManagerConfig
from neuroplast.continual.neuromorphic.prototypes import PrototypeMemory
from neuroplast.errors import DataError


def test_calibration_picks_the_lowest_threshold_within_the_target_risk() -> None:
    conf = [0.9, 0.8, 0.7, 0.6, 0.5]
    right = [True, True, False, True, False]
    # answered at >= 0.9: risk 0; 0.8: 0; 0.7: 1/3; 0.6: 1/4; 0.5: 2/5
    composer = AnswerComposer(ComposerConfig())
    assert composer.calibrate(conf, right, 0.25) == 0.6
    assert composer.calibrate(conf, right, 0.2) == 0.8
    assert composer.threshold == 0.8
    never = composer.calibrate([0.9, 0.4], [False, False], 0.1)
    assert never == math.nextafter(0.9, math.inf)  # no threshold is safe: always abstain


def test_risk_coverage_curve_by_hand_with_tied_confidences() -> None:
    curve = risk_coverage([0.9, 0.7, 0.7, 0.2], [True, False, True, False])
    assert curve.thresholds == [0.9, 0.7, 0.2]
    assert curve.coverage == [0.25, 0.75, 1.0]
    assert curve.risk == pytest.approx([0.0, 1 / 3, 0.5])
    # mean of the per-input prefix risks 0, 1/2, 1/3, 1/2 (ties ranked in input order)
    assert curve.aurc == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 2) / 4)
    with pytest.raises(DataError, match="one correct flag per confidence"):
        risk_coverage([0.5, 0.4], [True])


def test_class_distribution_from_activity_and_abstention() -> None:
    composer = AnswerComposer(ComposerConfig(temperature=0.5, aggregate="max", threshold=0.6))
    scores = torch.tensor([[0.9, 0.1, 0.3], [0.5, 0.5, 0.45]])
    labels = torch.tensor([0, 0, 2])  # class 1 has no prototype
    answers = composer.compose(scores, labels, ["cat", "dog", "fox"])
    p = torch.softmax(torch.tensor([0.9, 0.3]) / 0.5, 0)
    assert answers[0].label == "cat" and answers[0].confidence == pytest.approx(float(p[0]))
    assert answers[0].probabilities["dog"] == 0.0 and not answers[0].abstained
    assert answers[1].abstained and answers[1].confidence == pytest.approx(
        float(torch.softmax(torch.tensor([0.5, 0.45]) / 0.5, 0)[0])
    )
    summed = AnswerComposer(ComposerConfig(aggregate="sum", temperature=1.0))
    probs = summed.probabilities(scores, labels, 3)
    torch.testing.assert_close(probs[1, [0, 2]], torch.softmax(torch.tensor([1.0, 0.45]), 0))


def test_evidence_names_the_top_prototypes_and_their_nearest_examples() -> None:
    memory = PrototypeMemory(PrototypeManagerConfig(indexing_backend="brute"), dim=2)
    memory.observe(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.05]]), [0, 1, 0], refs=[7, 8, 9])
    sims = memory.similarities(torch.tensor([[1.0, 0.2]]))
    composer = AnswerComposer(ComposerConfig(evidence_top_k=2, examples_per_evidence=1))
    (answer,) = composer.compose(sims, memory.labels, ["a", "b"], memory, similarities=sims)
    assert [e.prototype for e in answer.evidence] == [0, 1]
    assert answer.evidence[0].examples == [7] and answer.evidence[0].label == "a"
    assert answer.evidence[1].similarity == pytest.approx(float(sims[0, 1]))
    assert answer.to_dict()["evidence"][1]["label"] == "b"


def test_evidence_of_a_winner_take_all_recall_ranks_silent_assemblies_by_similarity() -> None:
    memory = PrototypeMemory(PrototypeManagerConfig(indexing_backend="brute"), dim=2)
    memory.observe(torch.eye(2).repeat(2, 1) * torch.tensor([[1.0], [1.0], [-1.0], [-1.0]]),
                   [0, 1, 0, 1], refs=[1, 2, 3, 4])  # fmt: skip
    sims = torch.tensor([[0.1, 0.8, -0.1, 0.3]])
    rates = torch.tensor([[0.0, 0.0, 0.6, 0.0]])  # one assembly fired, the rest silent
    composer = AnswerComposer(ComposerConfig(evidence_top_k=3))
    (answer,) = composer.compose(rates, memory.labels, ["a", "b"], memory, similarities=sims)
    assert [e.prototype for e in answer.evidence] == [2, 1, 3]  # winner, then by similarity
    assert [e.similarity for e in answer.evidence] == pytest.approx([-0.1, 0.8, 0.3])
    with pytest.raises(DataError, match=r"similarities \(1, 3\) must match"):
        composer.compose(rates, memory.labels, ["a", "b"], memory, similarities=sims[:, :3])


def test_bad_scores_are_refused() -> None:
    composer = AnswerComposer(ComposerConfig())
    with pytest.raises(DataError, match=r"scores \[n, P\] for P = 2"):
        composer.compose(torch.zeros(1, 3), torch.tensor([0, 1]), ["a", "b"])
    with pytest.raises(DataError, match="2 class names"):
        composer.compose(torch.zeros(1, 2), torch.tensor([0, 2]), ["a", "b"])


def test_the_fitted_temperature_makes_confidence_the_hit_rate() -> None:
    """Class scores [1, 0] on every row, right 80 % of the time: the log-loss is lowest where
    softmax(1 / T) = 0.8, so T = 1 / ln 4 (on the grid, within one step of 12 %)."""
    composer = AnswerComposer(ComposerConfig(temperature=0.02))
    scores = torch.tensor([[1.0, 0.0]]).repeat(100, 1)
    labels = torch.tensor([0] * 80 + [1] * 20)
    t = composer.fit_temperature(scores, torch.tensor([0, 1]), 2, labels)
    assert t == pytest.approx(1 / math.log(4), rel=0.07)
    confidence = composer.probabilities(scores[:1], torch.tensor([0, 1]), 2).max()
    assert float(confidence) == pytest.approx(0.8, abs=0.02)
    assert composer.cfg.temperature == t, "the config keeps it, so it is saved with the model"


def test_rows_of_a_class_without_a_prototype_are_left_out_of_the_fit() -> None:
    composer = AnswerComposer(ComposerConfig())
    scores = torch.tensor([[1.0, 0.0]]).repeat(10, 1)
    fitted = composer.fit_temperature(scores, torch.tensor([0, 1]), 3, torch.tensor([0] * 9 + [2]))
    assert fitted < 0.1, "only class-0 rows count, all right: as cold as the grid goes"
    with pytest.raises(DataError, match="temperature"):
        composer.fit_temperature(scores, torch.tensor([0, 1]), 3, torch.tensor([2] * 10))
    with pytest.raises(DataError, match="one label per row"):
        composer.fit_temperature(scores, torch.tensor([0, 1]), 3, torch.tensor([0] * 3))
