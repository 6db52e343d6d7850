"""The neuromorphic continual learner of issue 18: a concept encoder, a prototype memory, a
spiking attractor memory trained by reward-modulated STDP and an answer composer that can
abstain, and the learner built on them. Importing this package loads neither faiss nor
snntorch nor transformers; each name is imported from its module on first use."""

from __future__ import annotations

from neuroplast._lazy import lazy_exports

_MODULES = {
    "neuroplast.continual.neuromorphic.composer": (
        "Answer",
        "AnswerComposer",
        "Evidence",
        "RiskCoverage",
        "risk_coverage",
    ),
    "neuroplast.continual.neuromorphic.encoder": (
        "Backbone",
        "ConceptEncoder",
        "info_nce",
        "list_encoders",
        "register_encoder",
    ),
    "neuroplast.continual.neuromorphic.config": (
        "ComposerConfig",
        "ConceptEncoderConfig",
        "PrototypeManagerConfig",
        "SNNConfig",
    ),
    "neuroplast.continual.neuromorphic.learner": ("LearnerStats", "NeuromorphicLearner"),
    "neuroplast.continual.neuromorphic.prototypes": ("MaintenanceReport", "PrototypeMemory"),
    "neuroplast.continual.neuromorphic.run_config": (
        "NeuroRunConfig",
        "load_neuro_config",
        "parse_neuro_config",
    ),
    "neuroplast.continual.neuromorphic.snn": (
        "ALIF",
        "AttractorMemory",
        "Recall",
        "stdp_eligibility",
    ),
}
_HOMES = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
