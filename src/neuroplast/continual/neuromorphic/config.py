"""The four sections of a neuromorphic learner's YAML, with seed 003's section and key names:
``concept_encoder``, ``prototype_manager``, ``snn`` and ``composer``. Unknown keys are
rejected; every field says what it does."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ComposerConfig",
    "ConceptEncoderConfig",
    "NeuronType",
    "PrototypeManagerConfig",
    "SNNConfig",
]

NeuronType = Literal["lif", "plif", "alif"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConceptEncoderConfig(_Strict):
    encoder_type: str = Field(
        "minilm",
        description="backbone by registered name: minilm (text), efficientnet-lite0 (images), "
        "cnn (a registered neuroplast image model, named by model_ref), or hf:<local dir> "
        "(any Hugging Face model directory on disk)",
    )
    model_ref: str | None = Field(
        None, description="cnn: the registry ref of the trained model, e.g. fm-cnn:3"
    )
    projection_dim: int | None = Field(
        None,
        ge=2,
        le=4096,
        description="width of the trainable projection head; null = the backbone's embedding",
    )
    contrastive_temperature: float = Field(
        0.07, gt=0.0, le=10.0, description="InfoNCE temperature of the projection head"
    )
    freeze_backbone: bool = Field(
        True,
        description="true: only the projection head trains; false: backbones that are torch "
        "modules (cnn, efficientnet-lite0, hf) train with it in fit()",
    )
    projection_epochs: int = Field(20, ge=1, description="passes of the head's InfoNCE training")
    projection_lr: float = Field(1e-3, gt=0.0, description="Adam learning rate of the head")
    projection_batch_size: int = Field(128, ge=2, description="pairs per InfoNCE batch")
    batch_size: int = Field(64, ge=1, description="inputs per backbone forward pass")
    max_length: int = Field(128, ge=8, le=512, description="text backbones: tokens kept")
    image_size: int | None = Field(
        None, ge=16, le=1024, description="image backbones: resize to this side; null = native"
    )
    use_cache: bool = Field(
        True, description="minilm: read and fill the registry's embedding cache"
    )

    @field_validator("encoder_type")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("needs a backbone name, e.g. minilm, efficientnet-lite0, cnn")
        return value.strip()

    @model_validator(mode="after")
    def _ref(self) -> ConceptEncoderConfig:
        if self.encoder_type == "cnn" and not self.model_ref:
            raise ValueError(
                "encoder_type: cnn reads a trained model's pooled features: set model_ref to "
                "its registry ref, e.g. model_ref: fm-cnn:1"
            )
        return self

    @property
    def backbone(self) -> str:
        """The backbone's registered name (``encoder_type``)."""
        return self.encoder_type


class PrototypeManagerConfig(_Strict):
    max_prototypes: int = Field(
        5000, ge=1, description="cap; past it the least-used prototype is evicted"
    )
    similarity_threshold: float = Field(
        0.85,
        ge=-1.0,
        le=1.0,
        description="an example whose nearest same-label prototype is less similar (cosine) "
        "than this starts a new prototype; otherwise it updates that one",
    )
    momentum: float = Field(
        0.9,
        ge=0.0,
        lt=1.0,
        description="EMA update: p <- momentum * p + (1 - momentum) * x, then renormalised",
    )
    mean_warmup: bool = Field(
        False,
        description="true: a prototype is the plain mean of its first 1 / (1 - momentum) "
        "members (the new one weighs 1 / count), the EMA after that (a bias-corrected EMA: "
        "the first member does not keep momentum^n of the weight); false: the EMA from the "
        "first member on",
    )
    merge_threshold: float = Field(
        0.97,
        ge=-1.0,
        le=1.0,
        description="maintenance merges two same-label prototypes more similar than this",
    )
    split_variance: float = Field(
        0.5,
        gt=0.0,
        le=4.0,
        description="maintenance splits a prototype whose members' mean squared distance to "
        "it (EMA, on unit vectors: 0..4) exceeds this bound",
    )
    min_split_count: int = Field(
        8, ge=2, description="a prototype needs this many members before it can split"
    )
    maintenance_interval: int = Field(
        1000, ge=1, description="run merge / split / eviction after this many updates"
    )
    indexing_backend: Literal["faiss", "brute"] = Field(
        "faiss",
        description="faiss: exact inner product (IndexFlatIP in an IndexIDMap); brute: a "
        "matrix product in numpy; both return the same neighbours",
    )
    examples_per_prototype: int = Field(
        3, ge=0, le=64, description="refs of the stored inputs nearest to each prototype"
    )
    keep_last_of_label: bool = Field(
        True, description="eviction never removes a label's last prototype"
    )
    per_class_budget: bool = Field(
        True,
        description="true: at the cap, evict from the label holding the most prototypes (each "
        "class keeps about max_prototypes / classes); false: the least-used anywhere (old "
        "classes, no longer updated, go first)",
    )
    similarity: Literal["cosine", "whitened"] = Field(
        "cosine",
        description="cosine: on the concepts as they come; whitened: after whitening by the "
        "streaming covariance of every concept seen (a Mahalanobis-like metric, as streaming "
        "LDA; costs dim^2 / 2 floats of memory)",
    )
    whitening_shrinkage: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="whitened: the covariance is shrunk this far towards its mean variance",
    )
    whitened_length: Literal["class_mean", "unit"] = Field(
        "class_mean",
        description="whitened: project each prototype at the length of its class's mean "
        "concept (class_mean) or as the unit vector the memory keeps (unit). The whitening "
        "centres on the mean of all concepts, so the length moves a prototype's direction; "
        "at unit length a class learnt from 5 examples took 20 % of the old classes' inputs "
        "on split Fashion-MNIST, 1.6 % at its mean's length",
    )


class SNNConfig(_Strict):
    neuron_type: NeuronType = Field(
        "lif",
        description="lif: leaky integrate-and-fire; plif: with a learnable time constant; "
        "alif: with an adaptive threshold",
    )
    num_timesteps: int = Field(20, ge=1, le=1000, description="simulation steps per recall")
    stdp_lr: float = Field(
        0.01, ge=0.0, description="STDP learning rate of the recurrent weights (0 = off)"
    )
    reward_modulation: bool = Field(
        True,
        description="true: the STDP update is scaled by the reward (correct recall +, wrong -); "
        "false: plain STDP, every recall counts as rewarded",
    )
    beta: float = Field(
        0.9, gt=0.0, lt=1.0, description="membrane decay per step (plif: its initial value)"
    )
    threshold: float = Field(1.0, gt=0.0, description="firing threshold")
    reset_mechanism: Literal["subtract", "zero"] = Field(
        "subtract", description="after a spike: subtract the threshold, or set the membrane to 0"
    )
    input_gain: float = Field(
        0.5, gt=0.0, description="input current per step = gain * max(similarity - offset, 0)"
    )
    input_offset: float = Field(
        0.0, ge=-1.0, lt=1.0, description="similarities at or below this give no current"
    )
    self_excitation: float = Field(
        0.0, description="initial weight of each assembly onto itself (the attractor)"
    )
    lateral_inhibition: float = Field(
        0.0, ge=0.0, description="current every spike removes from every other assembly"
    )
    adaptation_decay: float = Field(
        0.9, ge=0.0, lt=1.0, description="alif: decay of the threshold adaptation per step"
    )
    adaptation_strength: float = Field(
        0.2, ge=0.0, description="alif: threshold increase per unit of adaptation"
    )
    trace_decay: float = Field(
        0.9, ge=0.0, lt=1.0, description="decay per step of the STDP pre/post traces"
    )
    stdp_depression: float = Field(
        0.5,
        ge=0.0,
        description="post-before-pre depression relative to pre-before-post potentiation",
    )
    weight_bound: float = Field(1.0, gt=0.0, description="recurrent weights are kept in ±bound")
    record_raster: bool = Field(
        True, description="keep the spike raster of each recall (needed by STDP and plots)"
    )


class ComposerConfig(_Strict):
    target_risk: float = Field(
        0.05,
        gt=0.0,
        lt=1.0,
        description="calibration picks the lowest threshold whose answered inputs' error "
        "rate on held-out data is at most this",
    )
    threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="abstain below this confidence; null = not calibrated yet, never abstain",
    )
    abstain_on: Literal["confidence", "distance", "relative_distance"] = Field(
        "confidence",
        description="the score abstention reads: confidence (the answer's probability); "
        "distance (minus the Mahalanobis distance to the nearest prototype: far from every "
        "stored class = unknown); relative_distance (that distance minus the distance to the "
        "mean of all data, Ren et al. 2021). The distances need prototype_manager.similarity: "
        "whitened",
    )
    answer_rate: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="calibrate the threshold to answer this share of the held-out rows of "
        "known classes (an open-set rule: nothing unknown is needed); null = calibrate for "
        "target_risk",
    )
    calibration_rows_per_class: int = Field(
        30,
        ge=1,
        le=10000,
        description="distance scores: held-out concepts kept per class to recalibrate when the "
        "metric moves (their bytes count in the memory)",
    )
    evidence_top_k: int = Field(3, ge=0, le=100, description="prototypes shown as evidence")
    examples_per_evidence: int = Field(
        3, ge=0, le=64, description="stored example refs shown per evidence prototype"
    )
    aggregate: Literal["max", "sum"] = Field(
        "max", description="a class's score from its prototypes' activity: max or sum"
    )
    temperature: float = Field(
        0.1, gt=0.0, description="softmax temperature from class scores to probabilities"
    )
    fit_temperature: bool = Field(
        True,
        description="set temperature at each calibration to the one with the lowest "
        "log-loss on the held-out rows (temperature scaling: the answers do not change, "
        "their confidences become probabilities); false: keep temperature as written",
    )
