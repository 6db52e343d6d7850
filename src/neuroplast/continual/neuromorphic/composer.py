"""The answer composer: the memory's settled activity per prototype and the prototypes'
labels -> a class distribution; an answer with its confidence, abstaining below a
threshold calibrated on held-out data for a target risk, and its evidence (the most active
prototypes, their similarities and the refs of the stored inputs nearest to them)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from neuroplast.continual.neuromorphic.config import ComposerConfig
from neuroplast.errors import DataError

__all__ = [
    "Answer",
    "AnswerComposer",
    "Evidence",
    "EvidenceSource",
    "RiskCoverage",
    "risk_coverage",
]


class EvidenceSource(Protocol):
    """What evidence is read from (a PrototypeMemory): the id of each prototype row and the
    refs of the stored inputs nearest to a prototype."""

    @property
    def ids(self) -> Tensor: ...

    def examples(self, pid: int) -> list[int]: ...


@dataclass(frozen=True)
class Evidence:
    prototype: int
    label: str
    activity: float
    similarity: float | None
    examples: list[int]


@dataclass(frozen=True)
class Answer:
    """The best class (``label``) and its probability (``confidence``); ``abstained``
    when that is below the calibrated threshold ("I don't know")."""

    label: str
    confidence: float
    abstained: bool
    probabilities: dict[str, float]
    evidence: list[Evidence]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RiskCoverage:
    """Answering every input whose confidence is at least ``thresholds[i]`` covers
    ``coverage[i]`` of them with error rate ``risk[i]`` (thresholds descending); ``aurc`` is
    the mean risk over every coverage step (the area under the curve; lower is better)."""

    thresholds: list[float]
    coverage: list[float]
    risk: list[float]
    aurc: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pairs(confidences: Any, correct: Any) -> tuple[Tensor, Tensor]:
    conf = torch.as_tensor(confidences, dtype=torch.float64).reshape(-1)
    right = torch.as_tensor(correct).reshape(-1).to(torch.bool)
    if len(conf) != len(right) or not len(conf):
        raise DataError(
            f"calibration needs one correct flag per confidence and at least one pair; got "
            f"{len(conf)} confidences and {len(right)} flags"
        )
    if not torch.isfinite(conf).all():
        raise DataError("the confidences hold NaN or infinite values")
    return conf, right


def risk_coverage(confidences: Any, correct: Any) -> RiskCoverage:
    """The risk-coverage curve of held-out answers (``correct``: bool per input)."""
    conf, right = _pairs(confidences, correct)
    order = torch.argsort(conf, descending=True, stable=True)
    conf, wrong = conf[order], (~right[order]).to(torch.float64)
    errors = torch.cumsum(wrong, 0)
    answered = torch.arange(1, len(conf) + 1, dtype=torch.float64)
    last_of_tie = torch.ones(len(conf), dtype=torch.bool)  # equal confidences go together
    last_of_tie[:-1] = conf[:-1] != conf[1:]
    risk = errors / answered
    return RiskCoverage(
        thresholds=conf[last_of_tie].tolist(),
        coverage=(answered[last_of_tie] / len(conf)).tolist(),
        risk=risk[last_of_tie].tolist(),
        aurc=float(risk.mean()),
    )


class AnswerComposer:
    """Answers from activity, configured by ``cfg``; :attr:`threshold` (None: never
    abstain) is set by :meth:`calibrate` or by hand."""

    def __init__(self, cfg: ComposerConfig) -> None:
        self.cfg = cfg
        self.threshold: float | None = cfg.threshold

    def class_scores(self, scores: Tensor, proto_labels: Tensor, num_classes: int) -> Tensor:
        """[n, C]: each class's score from its prototypes' (``aggregate``: max or sum);
        -inf for a class with no prototype."""
        scores, labels = self._check(scores, proto_labels, num_classes)
        out = torch.full((len(scores), num_classes), float("-inf"))
        for c in torch.unique(labels).tolist():
            mine = scores[:, labels == c]
            out[:, c] = mine.max(dim=1).values if self.cfg.aggregate == "max" else mine.sum(1)
        return out

    def fit_temperature(
        self, scores: Tensor, proto_labels: Tensor, num_classes: int, labels: Tensor
    ) -> float:
        """Set ``temperature`` to the one of a log-spaced grid (1e-4 to 10) with the lowest
        mean log-loss of ``labels`` under the softmax of the class scores (temperature
        scaling, Guo et al. 2017); rows whose class has no prototype are left out."""
        class_scores = self.class_scores(scores, proto_labels, num_classes).double()
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        known = torch.isfinite(class_scores.gather(1, labels[:, None].clamp(0, num_classes - 1)))
        known = known.flatten() & (labels >= 0) & (labels < num_classes)
        if len(labels) != len(class_scores) or not bool(known.any()):
            raise DataError(
                f"fitting the temperature needs one label per row of a class with a prototype; "
                f"got {len(labels)} labels for {len(class_scores)} rows"
            )
        rows, truth = class_scores[known], labels[known]
        grid = torch.logspace(-4, 1, 101, dtype=torch.float64)
        losses = torch.stack([
            torch.nn.functional.cross_entropy(rows / t, truth) for t in grid
        ])  # fmt: skip
        self.cfg.temperature = float(grid[int(torch.argmin(losses))])
        return self.cfg.temperature

    def probabilities(self, scores: Tensor, proto_labels: Tensor, num_classes: int) -> Tensor:
        """[n, C]: softmax of the class scores over ``temperature``."""
        return torch.softmax(
            self.class_scores(scores, proto_labels, num_classes) / self.cfg.temperature, dim=1
        )

    def _check(self, scores: Any, proto_labels: Any, num_classes: int) -> tuple[Tensor, Tensor]:
        s = torch.as_tensor(scores, dtype=torch.float32)
        labels = torch.as_tensor(proto_labels, dtype=torch.int64).reshape(-1)
        if s.ndim != 2 or s.shape[1] != len(labels) or not len(labels):
            raise DataError(
                f"expected scores [n, P] for P = {len(labels)} labelled prototypes, got "
                f"{tuple(s.shape)}"
            )
        if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
            raise DataError(
                f"prototype labels run {int(labels.min())}..{int(labels.max())}; there are "
                f"{num_classes} class names"
            )
        if torch.isnan(s).any():
            raise DataError("the scores hold NaN")
        return s, labels

    def compose(
        self,
        scores: Tensor,
        proto_labels: Tensor,
        class_names: Sequence[str],
        evidence: EvidenceSource | None = None,
        *,
        similarities: Tensor | None = None,
        support: Tensor | None = None,
    ) -> list[Answer]:
        """One answer per row of ``scores`` [n, P] (the settled rates, or similarities).
        ``evidence`` (the prototype memory) adds the top ``evidence_top_k`` prototypes with
        their stored examples; ``similarities`` [n, P] adds each one's similarity;
        ``support`` [n], when given, is what the threshold reads instead of the confidence
        (minus a distance: ``abstain_on``)."""
        probs = self.probabilities(scores, proto_labels, len(class_names))
        conf, best = probs.max(dim=1)
        labels = torch.as_tensor(proto_labels, dtype=torch.int64).reshape(-1)
        top = self._top(torch.as_tensor(scores, dtype=torch.float32), evidence, similarities)
        answers = []
        read = conf if support is None else torch.as_tensor(support).reshape(-1)
        if len(read) != len(probs):
            raise DataError(f"support holds {len(read)} scores for {len(probs)} answers")
        for i in range(len(probs)):
            confidence = float(conf[i])
            answers.append(
                Answer(
                    label=class_names[int(best[i])],
                    confidence=confidence,
                    abstained=self.threshold is not None and float(read[i]) < self.threshold,
                    probabilities={n: float(p) for n, p in zip(class_names, probs[i], strict=True)},
                    evidence=self._evidence(
                        i, top, scores, labels, class_names, evidence, similarities
                    ),
                )
            )
        return answers

    def _top(
        self, scores: Tensor, evidence: EvidenceSource | None, similarities: Tensor | None
    ) -> Tensor | None:
        """The evidence prototypes of each row: the most active; equal activity (a
        winner-take-all recall leaves most assemblies at 0) ranked by similarity."""
        k = min(self.cfg.evidence_top_k, scores.shape[1])
        if evidence is None or k == 0:
            return None
        if similarities is None:
            return torch.topk(scores, k, dim=1).indices
        sims = torch.as_tensor(similarities, dtype=torch.float64)
        if sims.shape != scores.shape:
            raise DataError(
                f"similarities {tuple(sims.shape)} must match the scores {tuple(scores.shape)}"
            )
        order = torch.argsort(sims, dim=1, descending=True, stable=True)  # ties: similarity
        ranked = torch.gather(scores.to(torch.float64), 1, order)
        by_score = torch.argsort(ranked, dim=1, descending=True, stable=True)
        return torch.gather(order, 1, by_score)[:, :k]

    def _evidence(
        self,
        i: int,
        top: Tensor | None,
        scores: Tensor,
        labels: Tensor,
        class_names: Sequence[str],
        source: EvidenceSource | None,
        similarities: Tensor | None,
    ) -> list[Evidence]:
        if top is None or source is None:
            return []
        ids = source.ids
        out = []
        for row in top[i].tolist():
            pid = int(ids[row])
            out.append(
                Evidence(
                    prototype=pid,
                    label=class_names[int(labels[row])],
                    activity=float(scores[i, row]),
                    similarity=None if similarities is None else float(similarities[i, row]),
                    examples=source.examples(pid)[: self.cfg.examples_per_evidence],
                )
            )
        return out

    def calibrate(self, confidences: Any, correct: Any, target_risk: float | None = None) -> float:
        """The lowest threshold at which the held-out answers it keeps (confidence >= it)
        err at most ``target_risk`` (default ``cfg.target_risk``): the most coverage within
        the risk. When no threshold does, one above every confidence (always abstain).
        Sets :attr:`threshold` and returns it."""
        target = self.cfg.target_risk if target_risk is None else float(target_risk)
        if not 0.0 < target < 1.0:
            raise DataError(f"target_risk must be in (0, 1), got {target}")
        curve = risk_coverage(confidences, correct)
        within = [t for t, r in zip(curve.thresholds, curve.risk, strict=True) if r <= target]
        above_all = math.nextafter(max(curve.thresholds), math.inf)
        self.threshold = float(min(within) if within else above_all)
        return self.threshold

    def calibrate_rate(self, support: Any, answer_rate: float) -> float:
        """The threshold that answers ``answer_rate`` of these held-out rows (the highest
        value with at least that share at or above it): an open-set rule that needs no
        example of what is unknown. Sets :attr:`threshold` and returns it."""
        if not 0.0 < answer_rate <= 1.0:
            raise DataError(f"answer_rate must be in (0, 1], got {answer_rate}")
        values = torch.as_tensor(support, dtype=torch.float64).reshape(-1)
        if not len(values) or not torch.isfinite(values).all():
            raise DataError(
                f"calibration needs finite held-out scores; got {len(values)} rows"
                + (" with NaN or infinite values" if len(values) else "")
            )
        ranked = torch.sort(values, descending=True).values
        self.threshold = float(ranked[math.ceil(answer_rate * len(ranked)) - 1])
        return self.threshold

    def risk_coverage(self, confidences: Any, correct: Any) -> RiskCoverage:
        """:func:`risk_coverage`."""
        return risk_coverage(confidences, correct)
