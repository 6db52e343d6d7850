"""The neuromorphic continual learner: concepts -> prototypes -> spiking recall -> answers.

``fit_task(inputs, labels)`` encodes a task's examples into unit-norm concepts, lets the
prototype memory absorb them (EMA updates, new prototypes, maintenance), then recalls each
example through the spiking attractor memory and reinforces its recurrent synapses by
reward-modulated STDP on the winning assembly (rewarded when its label is right, punished
when wrong). ``predict(inputs)`` recalls and lets the composer answer, abstaining
below the threshold ``calibrate`` set on held-out rows. Nothing of a task's inputs is kept
but the prototypes and, per prototype, the indices of a few nearest examples.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from neuroplast.continual.neuromorphic.run_config import NeuroRunConfig
from neuroplast.errors import ConfigError, DataError

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["Inputs", "LearnerStats", "NeuromorphicLearner", "Scored", "relative"]

logger = logging.getLogger(__name__)
Inputs = Sequence[str] | Tensor


def relative(similarities: Tensor) -> Tensor:
    """What drives the assemblies: each similarity relative to the row's nearest prototype
    (``s - max + 1``: the nearest gets 1). Absolute cosines sit in different ranges per
    backbone (EfficientNet features 0.6-0.9, MiniLM sentences 0.1-0.6); relative to the
    best match, ``snn.input_offset`` means the same for all: the margin below the nearest
    prototype within which an assembly still gets current."""
    if similarities.shape[1] == 0:
        return similarities
    return similarities - similarities.max(dim=1, keepdim=True).values + 1.0


@dataclass(frozen=True)
class Scored:
    """Batch answers without evidence (for evaluation): the predicted global label, its
    confidence, the score abstention reads (``support``: the confidence, or minus a
    distance, see ``composer.abstain_on``) and whether the composer would abstain; recall
    costs of the batch."""

    labels: Tensor
    confidence: Tensor
    abstained: Tensor
    spikes: int
    synops: int
    support: Tensor


@dataclass(frozen=True)
class LearnerStats:
    prototypes: int
    classes: int
    memory_bytes: int
    prototypes_per_class: dict[str, int]


class NeuromorphicLearner:
    """Concept encoder, prototype memory, attractor memory and composer, trained task by
    task. ``config`` is a :class:`NeuroRunConfig` (its four part sections and ``training``);
    ``registry`` serves the encoder's embedding cache (default: ``$NEUROPLAST_HOME``).
    ``spiking=False`` answers from the prototype similarities directly (the plain
    nearest-prototype classifier on the same prototypes)."""

    def __init__(
        self,
        config: NeuroRunConfig,
        *,
        class_names: Sequence[str] = (),
        seed: int = 0,
        spiking: bool = True,
        registry: Registry | None = None,
    ) -> None:
        from neuroplast.continual.neuromorphic.composer import AnswerComposer
        from neuroplast.continual.neuromorphic.encoder import ConceptEncoder

        self.config = config
        self.seed = seed
        self.spiking = spiking
        self.class_names = list(class_names)
        self.encoder = ConceptEncoder(config.concept_encoder, registry=registry)
        self.composer = AnswerComposer(config.composer)
        self.memory: Any = None  # PrototypeMemory, made when the first concepts arrive
        self.attractor: Any = None  # AttractorMemory, idem
        self.whitening: Any = None  # Whitening (prototype_manager.similarity: whitened), idem
        #: the prototypes as the metric sees them, cached against (memory, metric) changes
        self._projected: tuple[tuple[int, int, int], Tensor] | None = None
        self.tasks_seen = 0
        #: training rows seen so far: a row's ref is its position in the whole stream
        self.rows_seen = 0
        #: how inputs were shaped in training (images: input_shape, input_range)
        self.preprocessing: dict[str, Any] = {}
        #: evidence refs -> the training input they name (texts; image positions)
        self.examples: dict[str, str] = {}
        self.projection_fitted = False
        #: (confidence, correct) of every held-out row so far: what calibration reads
        self.calibration = torch.zeros((0, 2), dtype=torch.float32)
        #: held-out concepts (float16) and labels kept to recalibrate distance scores
        self.held: tuple[Tensor, Tensor] = (torch.zeros(0, 0, dtype=torch.float16),
                                            torch.zeros(0, dtype=torch.long))  # fmt: skip

    # -- parts ------------------------------------------------------------------------
    def _ensure_memory(self, dim: int) -> None:
        from neuroplast.continual.neuromorphic.prototypes import PrototypeMemory
        from neuroplast.continual.neuromorphic.snn import AttractorMemory

        if self.memory is None:
            pm = self.config.prototype_manager
            self.memory = PrototypeMemory(pm, dim)
            self.attractor = AttractorMemory(self.config.snn, 0)
            if pm.similarity == "whitened":
                from neuroplast.continual.neuromorphic.metric import Whitening

                self.whitening = Whitening(dim, pm.whitening_shrinkage)

    @property
    def num_prototypes(self) -> int:
        return 0 if self.memory is None else len(self.memory.labels)

    def prototype_labels(self) -> Tensor:
        if self.memory is None:
            return torch.zeros(0, dtype=torch.long)
        return self.memory.labels.long()

    # -- encoding ---------------------------------------------------------------------
    def embed(self, inputs: Inputs) -> Tensor:
        """Unit-norm concepts of ``inputs`` (texts or an image tensor [n, c, h, w])."""
        if len(inputs) == 0:
            raise DataError("no inputs to encode")
        return self.encoder.encode(inputs)

    def fit_projection(self, inputs: Inputs, labels: Tensor) -> None:
        """Fit the InfoNCE projection head once (``training.projection_task: first``)."""
        cfg = self.config
        if cfg.concept_encoder.projection_dim is None or cfg.training.projection_task == "none":
            return
        if not self.projection_fitted:
            self.encoder.fit_projection(
                self.encoder.backbone_embed(inputs),
                labels,
                epochs=cfg.concept_encoder.projection_epochs,
                seed=self.seed,
            )
            self.projection_fitted = True

    # -- recall -----------------------------------------------------------------------
    def similarities(self, concepts: Tensor) -> Tensor:
        """Cosine similarity of every concept to every prototype: [n, P]."""
        p = self.num_prototypes
        if p == 0:
            raise DataError("the learner has no prototypes yet: train it on a task first")
        if self.whitening is None:
            return self.memory.similarities(concepts).float()
        return self.whitening.transform(concepts) @ self._prototypes_seen().T

    def _prototypes_seen(self) -> Tensor:
        """The prototypes in the whitened space (re-projected when they or the statistics
        changed since the last call)."""
        key = (self.memory.updates, len(self.memory), self.whitening.version)
        if self._projected is None or self._projected[0] != key:
            projected = self.whitening.transform(self._prototype_points())
            key = (self.memory.updates, len(self.memory), self.whitening.version)
            self._projected = (key, projected)
        return self._projected[1]

    def _prototype_points(self) -> Tensor:
        """The prototypes as points to whiten: the memory's unit vectors scaled to the length
        of their class's mean concept (``whitened_length: class_mean``). The mean of many
        unit concepts is shorter than one, and the shorter the more its class spreads; the
        whitening centres on the mean of all concepts, so that length sets the direction a
        prototype points in once whitened. A class's own mean is where its inputs sit."""
        vectors = self.memory.vectors
        if self.config.prototype_manager.whitened_length == "unit":
            return vectors
        seen, means = self.whitening.class_means()
        length = torch.ones(len(self.class_names))
        length[seen] = means.norm(dim=1)
        return vectors * length[self.prototype_labels(), None]

    def activity(self, concepts: Tensor, *, record: bool = False) -> tuple[Tensor, int, int, Any]:
        """What the composer reads for ``concepts``: the attractor's settled rates (spiking)
        or the similarities themselves; spikes, synaptic operations and the recall (its
        raster kept when ``record``)."""
        sims = self.similarities(concepts)
        if not self.spiking:
            return sims, 0, 0, None
        recall = self.attractor.run(relative(sims), record=record)
        return recall.rates, int(recall.spikes), int(recall.synops), recall

    def _reinforce(self, concepts: Tensor, labels: Tensor) -> None:
        """One rewarded recall per row through :meth:`AttractorMemory.learn`: reward +1 when
        the winning assembly's label is right, -1 when wrong, the update on the winner's
        incoming synapses (credit or blame where the answer came from)."""
        sims = self.similarities(concepts)
        self.attractor.learn(relative(sims), self.prototype_labels(), labels)

    # -- training ---------------------------------------------------------------------
    def fit_task(self, inputs: Inputs, labels: Tensor) -> NeuromorphicLearner:
        """Learn one task's labelled examples (global labels into ``class_names``)."""
        labels = torch.as_tensor(labels, dtype=torch.long)
        if len(inputs) != len(labels):
            raise DataError(f"{len(inputs)} inputs but {len(labels)} labels")
        self._check_labels(labels)
        self.fit_projection(inputs, labels)
        return self.fit_concepts(self.embed(inputs), labels)

    def fit_concepts(self, concepts: Tensor, labels: Tensor) -> NeuromorphicLearner:
        """:meth:`fit_task` on concepts already encoded (the study encodes a stream once)."""
        labels = torch.as_tensor(labels, dtype=torch.long)
        self._check_labels(labels)
        train, held = self._hold_out(len(labels))
        self._ensure_memory(concepts.shape[1])
        if self.whitening is not None:
            self.whitening.update(concepts[train], labels[train])
        old_ids = self.memory.ids
        batch = self.config.training.batch_size
        for start in range(0, len(train), batch):
            rows = train[start : start + batch]
            self.memory.observe(concepts[rows], labels[rows], refs=rows + self.rows_seen)
        self.rows_seen += len(labels)
        self.attractor.remap(self.memory.rows_in(old_ids))  # merged / split / new rows
        passes = self.config.training.stdp_passes if self.config.snn.stdp_lr > 0 else 0
        for _ in range(passes if self.spiking else 0):
            order = train[torch.randperm(len(train), generator=self._generator())]
            order = order[: self.config.training.stdp_max_rows or len(order)]
            for start in range(0, len(order), batch):
                rows = order[start : start + batch]
                self._reinforce(concepts[rows], labels[rows])
        self.tasks_seen += 1
        if len(held):
            self.calibrate_concepts(concepts[held], labels[held])
        return self

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1000 + self.tasks_seen)

    def _hold_out(self, n: int) -> tuple[Tensor, Tensor]:
        """Row indices to learn from and to hold out for calibration (seeded)."""
        order = torch.randperm(n, generator=self._generator())
        k = int(n * self.config.training.calibration_fraction)
        return order[k:], order[:k]

    def _check_labels(self, labels: Tensor) -> None:
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= len(self.class_names)):
            raise DataError(
                f"labels run from {int(labels.min())} to {int(labels.max())} but the learner "
                f"knows {len(self.class_names)} class names; pass class_names covering them"
            )

    # -- answers ----------------------------------------------------------------------
    def calibrate(self, inputs: Inputs, labels: Tensor) -> float:
        """Add held-out rows to the calibration set; returns the new abstention threshold."""
        return self.calibrate_concepts(self.embed(inputs), torch.as_tensor(labels))

    def calibrate_concepts(self, concepts: Tensor, labels: Tensor) -> float:
        """Add held-out rows and recalibrate: the softmax temperature to their log-loss
        (``composer.fit_temperature``), then the threshold for ``target_risk`` on their
        (score, correct) pairs, or to answer ``answer_rate`` of them. Distance scores move
        with the metric and confidences with the temperature, so their rows
        (``calibration_rows_per_class`` a class) are kept and all rescored; with a fixed
        temperature, confidence pairs are kept as scored."""
        labels = torch.as_tensor(labels, dtype=torch.long)
        composer = self.config.composer
        if composer.abstain_on != "confidence" or composer.fit_temperature:
            self._keep_held(concepts, labels)
            concepts, labels = self.held[0].float(), self.held[1]
            self.calibration = torch.zeros((0, 2), dtype=torch.float32)
        if composer.fit_temperature and len(labels):
            activity = torch.cat([self.activity(concepts[i : i + 512])[0]
                                  for i in range(0, len(concepts), 512)])  # fmt: skip
            self.composer.fit_temperature(
                activity, self.prototype_labels(), len(self.class_names), labels
            )
        scored = self.score_concepts(concepts)
        rows = torch.stack([scored.support, (scored.labels == labels).float()], 1)
        self.calibration = torch.cat([self.calibration, rows.float()])
        support, right = self.calibration[:, 0], self.calibration[:, 1].bool()
        rate = self.config.composer.answer_rate
        if rate is not None:
            return self.composer.calibrate_rate(support, rate)
        return float(self.composer.calibrate(support, right))

    def _keep_held(self, concepts: Tensor, labels: Tensor) -> None:
        """Add held-out rows, at most ``calibration_rows_per_class`` of each class."""
        cap = self.config.composer.calibration_rows_per_class
        kept_x, kept_y = self.held
        xs = [kept_x] if len(kept_y) else []
        ys = [kept_y]
        for c in torch.unique(labels).tolist():
            room = cap - int((kept_y == c).sum())
            rows = torch.nonzero(labels == c).flatten()[: max(room, 0)]
            xs.append(concepts[rows].to(torch.float16))
            ys.append(labels[rows])
        self.held = (torch.cat(xs), torch.cat(ys))

    def support(self, concepts: Tensor, confidence: Tensor) -> Tensor:
        """The score abstention reads (higher = answer): the confidence, or minus the
        squared Mahalanobis distance (within-class covariance) to the nearest class mean
        (``distance``), less the distance to the mean of all data seen
        (``relative_distance``)."""
        kind = self.config.composer.abstain_on
        if kind == "confidence" or self.whitening is None:
            return confidence
        nearest = self.whitening.class_distances(concepts).min(dim=1).values
        if kind == "relative_distance":
            nearest = nearest - self.whitening.background(concepts)
        return -nearest

    @property
    def threshold(self) -> float | None:
        value = self.composer.threshold
        return None if value is None else float(value)

    def score_concepts(
        self, concepts: Tensor, *, allowed: Sequence[int] | None = None, batch: int = 512
    ) -> Scored:
        """Labels, confidences and abstentions of many concepts (no evidence); ``allowed``
        restricts the answer to those classes (task-incremental: the task's own)."""
        labels, conf, support, spikes, synops = [], [], [], 0, 0
        proto_labels = self.prototype_labels()
        outside = None
        if allowed is not None:
            outside = ~torch.isin(proto_labels, torch.as_tensor(list(allowed)))
        for start in range(0, len(concepts), batch):
            scores, s, o, _ = self.activity(concepts[start : start + batch])
            if outside is not None:
                scores = scores.masked_fill(outside, -10.0)
            probs = self.composer.probabilities(scores, proto_labels, len(self.class_names))
            best_p, best = probs.max(dim=1)
            labels.append(best)
            conf.append(best_p)
            support.append(self.support(concepts[start : start + batch], best_p))
            spikes, synops = spikes + s, synops + o
        score = torch.cat(support)
        threshold = self.threshold
        abstained = (
            torch.zeros_like(score, dtype=torch.bool) if threshold is None else score < threshold
        )
        return Scored(torch.cat(labels), torch.cat(conf), abstained, spikes, synops, score)

    def predict(self, inputs: Inputs) -> list[Any]:
        """One :class:`~neuroplast.continual.neuromorphic.composer.Answer` per input:
        label, confidence, abstained, probabilities and evidence (top prototypes, their
        similarities and the refs of their stored nearest examples)."""
        self.require_trained()
        concepts = self.embed(inputs)
        sims = self.similarities(concepts)
        scores = sims
        if self.spiking:
            scores = self.attractor.run(relative(sims), record=False).rates
        support = None
        if self.config.composer.abstain_on != "confidence":
            support = self.support(concepts, torch.zeros(len(concepts)))
        return list(
            self.composer.compose(
                scores,
                self.prototype_labels(),
                self.class_names,
                self.memory,
                similarities=sims,
                support=support,
            )
        )

    def stats(self) -> LearnerStats:
        labels = self.prototype_labels().tolist()
        per_class: dict[str, int] = {}
        for label in labels:
            name = self.class_names[label]
            per_class[name] = per_class.get(name, 0) + 1
        return LearnerStats(len(labels), len(per_class), self.memory_bytes(), per_class)

    def memory_bytes(self) -> int:
        """Bytes kept between tasks: prototypes and their bookkeeping, the recurrent
        weights, the projection head and the calibration pairs (the frozen, shared
        pretrained backbone is not counted, as a replay buffer does not count the model)."""
        from neuroplast.continual.neuromorphic.persist import learner_tensors

        return sum(t.numel() * t.element_size() for t in learner_tensors(self).values())

    def require_trained(self) -> None:
        if self.memory is None or self.num_prototypes == 0:
            raise ConfigError("the learner has not learnt any task yet")
