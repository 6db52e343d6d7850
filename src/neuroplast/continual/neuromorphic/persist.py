"""A learner as tensors + JSON, and back: what a registered version stores.

``neuro/state.safetensors`` holds the prototypes, the recurrent weights, the projection head,
the whitening statistics (when prototypes are compared whitened), the calibration pairs and,
for distance abstention, the held-out concepts it recalibrates on (keys prefixed by part);
``neuro/learner.json`` holds the config, the class names, the threshold and each part's JSON
meta, with a format name and a schema version. Both are
written atomically and read back against the sha256 the registry recorded; nothing is unpickled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor

from neuroplast._version import ARTIFACT_SCHEMA_VERSION, __version__
from neuroplast.continual.neuromorphic.learner import NeuromorphicLearner
from neuroplast.continual.neuromorphic.run_config import parse_neuro_config
from neuroplast.errors import ArtifactError

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["FORMAT", "learner_from_state", "learner_meta", "learner_tensors"]

FORMAT = "neuroplast-neuromorphic-learner"
PARTS = ("encoder", "prototypes", "snn")


def _prefixed(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {f"{prefix}/{k}": v.detach().contiguous() for k, v in tensors.items()}


def _part_states(learner: NeuromorphicLearner) -> dict[str, tuple[dict[str, Tensor], Any]]:
    """Each part's (tensors, JSON meta)."""
    out: dict[str, tuple[dict[str, Tensor], Any]] = {}
    out["encoder"] = learner.encoder.state_dict()
    if learner.memory is not None:
        out["prototypes"] = (learner.memory.to_tensors(), learner.memory.meta())
        out["snn"] = (learner.attractor.state_dict(), learner.attractor.meta())
    if learner.whitening is not None:
        out["whitening"] = (learner.whitening.state_dict(), learner.whitening.meta())
    return out


def learner_tensors(learner: NeuromorphicLearner) -> dict[str, Tensor]:
    """Every tensor the learner keeps between tasks, keys prefixed by part."""
    tensors: dict[str, Tensor] = {"calibration": learner.calibration.contiguous()}
    if len(learner.held[1]):
        tensors.update({"held/concepts": learner.held[0].contiguous(),
                        "held/labels": learner.held[1].contiguous()})  # fmt: skip
    for part, (state, _) in _part_states(learner).items():
        tensors.update(_prefixed(part, state))
    return tensors


def learner_meta(learner: NeuromorphicLearner) -> dict[str, Any]:
    """The JSON half of the learner's state."""
    return {
        "format": FORMAT,
        "schema_version": ARTIFACT_SCHEMA_VERSION,
        "neuroplast_version": __version__,
        "config": learner.config.model_dump(mode="json"),
        "class_names": learner.class_names,
        "seed": learner.seed,
        "spiking": learner.spiking,
        "tasks_seen": learner.tasks_seen,
        "rows_seen": learner.rows_seen,
        "projection_fitted": learner.projection_fitted,
        "threshold": learner.threshold,
        "parts": {part: meta for part, (_, meta) in _part_states(learner).items()},
    }


def _split(tensors: dict[str, Tensor]) -> dict[str, dict[str, Tensor]]:
    out: dict[str, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        part, _, rest = key.partition("/")
        out.setdefault(part, {})[rest] = value
    return out


def learner_from_state(
    tensors: dict[str, Tensor], meta: dict[str, Any], *, registry: Registry | None = None
) -> NeuromorphicLearner:
    """The learner :func:`learner_tensors` and :func:`learner_meta` describe (``registry``
    serves its encoder's embedding cache)."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ArtifactError("neuro/learner.json is not a neuromorphic learner description")
    if int(meta.get("schema_version", 0)) > ARTIFACT_SCHEMA_VERSION:
        raise ArtifactError(
            f"the learner was saved by a newer neuroplast ({meta.get('neuroplast_version')}); "
            "upgrade neuroplast to load it"
        )
    from neuroplast.continual.neuromorphic.prototypes import PrototypeMemory
    from neuroplast.continual.neuromorphic.snn import AttractorMemory

    config = parse_neuro_config(meta["config"], where="neuro/learner.json")
    learner = NeuromorphicLearner(
        config,
        class_names=meta["class_names"],
        seed=int(meta["seed"]),
        spiking=meta["spiking"],
        registry=registry,
    )
    parts, part_meta = _split(tensors), meta.get("parts", {})
    learner.encoder.load_state_dict(parts.get("encoder", {}), part_meta.get("encoder"))
    if "prototypes" in part_meta:
        learner.memory = PrototypeMemory.from_tensors(
            parts.get("prototypes", {}), part_meta["prototypes"]
        )
        learner.attractor = AttractorMemory.from_state(parts.get("snn", {}), part_meta["snn"])
    if "whitening" in part_meta:
        from neuroplast.continual.neuromorphic.metric import Whitening

        learner.whitening = Whitening.from_state(parts.get("whitening", {}), part_meta["whitening"])
    learner.calibration = tensors.get("calibration", learner.calibration)
    if "held" in parts:
        learner.held = (parts["held"]["concepts"], parts["held"]["labels"].long())
    learner.tasks_seen = int(meta["tasks_seen"])
    learner.rows_seen = int(meta.get("rows_seen", 0))
    learner.projection_fitted = bool(meta["projection_fitted"])
    learner.composer.threshold = meta["threshold"]
    return learner
