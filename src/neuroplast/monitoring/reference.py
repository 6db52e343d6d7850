"""The reference a version's traffic is compared with: pooled features, probabilities,
true labels and input statistics of a bounded sample of one of its own splits.

Each split's reference is computed once and stored on the version as
``monitor-reference-SPLIT.safetensors`` (registry artifact: atomic write, sha256 recorded,
verified on every read; safetensors, never pickle). ``heldout`` (val and test together) is
the default of ``monitor``: the training split is there for input statistics, but the
model's outputs on the inputs it learned from are more confident than on any new input
(see ``monitor_traffic``). The
file's metadata records the schema and neuroplast versions, the split, the sample's seed
and size, and the version it was computed for.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from neuroplast.errors import ArtifactError, ConfigError, DataError, NeuroplastError
from neuroplast.monitoring.features import FeatureExtractor, InputFeatures
from neuroplast.registry import Registry, VersionRecord
from neuroplast.registry.artifacts import read_verified

__all__ = [
    "MAX_REFERENCE",
    "REFERENCE_SPLITS",
    "SCHEMA_VERSION",
    "Reference",
    "ReferenceSplit",
    "load_or_build_reference",
    "reference_artifact",
    "reference_inputs",
]

logger = logging.getLogger(__name__)

ReferenceSplit = Literal["train", "val", "test", "heldout"]
REFERENCE_SPLITS: tuple[str, ...] = get_args(ReferenceSplit)
#: At most this many inputs of the split are kept (a seeded random sample).
MAX_REFERENCE = 2000
SCHEMA_VERSION = 1
_SEED = 0


def reference_artifact(split: str) -> str:
    return f"monitor-reference-{split}.safetensors"


@dataclass(frozen=True)
class Reference:
    """What one split of a version looks like to its model."""

    split: str
    version: str  # the ref it was computed for
    label_names: list[str]
    labels: np.ndarray  # [N] true class codes
    inputs: InputFeatures

    @property
    def size(self) -> int:
        return len(self.labels)

    def to_bytes(self) -> bytes:
        from safetensors.numpy import save

        tensors: dict[str, np.ndarray] = {
            "features": self.inputs.features.astype(np.float32),
            "probabilities": self.inputs.probabilities.astype(np.float32),
            "labels": self.labels.astype(np.int64),
            **{f"stat.{k}": v.astype(np.float32) for k, v in self.inputs.statistics.items()},
        }
        from neuroplast import __version__

        metadata = {
            "schema_version": str(SCHEMA_VERSION),
            "neuroplast_version": __version__,
            "split": self.split,
            "version": self.version,
            "seed": str(_SEED),
            "rows": str(self.size),
            "label_names": json.dumps(self.label_names),
        }
        return bytes(save(tensors, metadata=metadata))

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str) -> Reference:
        from safetensors import SafetensorError
        from safetensors.numpy import load

        try:
            (size,) = struct.unpack("<Q", data[:8])
            metadata = json.loads(data[8 : 8 + size])["__metadata__"]
            tensors = load(data)
        except (struct.error, ValueError, KeyError, SafetensorError) as e:
            raise ArtifactError(f"{source} is not a drift reference file: {e}") from e
        if metadata.get("schema_version") != str(SCHEMA_VERSION):
            raise ArtifactError(
                f"{source} has schema version {metadata.get('schema_version')!r}, this "
                f"neuroplast reads {SCHEMA_VERSION}; delete the artifact to have it rebuilt"
            )
        stats = {k[5:]: v for k, v in tensors.items() if k.startswith("stat.")}
        return cls(
            split=metadata["split"],
            version=metadata["version"],
            label_names=json.loads(metadata["label_names"]),
            labels=tensors["labels"],
            inputs=InputFeatures(tensors["features"], tensors["probabilities"], stats),
        )


def _check_split(split: str) -> ReferenceSplit:
    if split not in REFERENCE_SPLITS:
        raise ConfigError(
            f"--reference must be one of {', '.join(REFERENCE_SPLITS)}, not {split!r}"
        )
    return split  # type: ignore[return-value]


def reference_inputs(
    version: VersionRecord, extractor: FeatureExtractor, split: str
) -> tuple[Any, np.ndarray]:
    """A seeded sample of at most :data:`MAX_REFERENCE` raw inputs of ``split``, and their
    labels, re-created from the data config recorded on the version (the inputs of the
    stored reference: the same seed)."""
    split = _check_split(split)
    from neuroplast.config import DataConfig
    from neuroplast.data import TextData
    from neuroplast.data.prepare import prepare

    meta = extractor.loaded.meta
    if not meta.data:
        raise DataError(
            f"{version.ref} was trained on data neuroplast did not load (the Python API on "
            f"the caller's loaders), so its {split} split cannot be rebuilt for a drift "
            "reference; train it with `neuroplast train` on a data config"
        )
    try:
        data = prepare(DataConfig.model_validate(meta.data), vocab=extractor.loaded.vocab)
    except NeuroplastError as e:
        raise DataError(
            f"the {split} split of {version.ref} cannot be rebuilt for a drift reference: {e}"
        ) from e
    if split == "heldout":  # val and test: every input the model did not learn from
        idx = np.sort(np.concatenate([data.indices("val"), data.indices("test")]))
    else:
        idx = data.indices(split)
    if len(idx) > MAX_REFERENCE:
        idx = np.sort(np.random.default_rng(_SEED).choice(idx, MAX_REFERENCE, replace=False))
    raw = data.raw
    inputs = [raw.texts[i] for i in idx] if isinstance(raw, TextData) else raw.images[idx]
    return inputs, np.asarray(raw.labels[idx], dtype=np.int64)


def load_or_build_reference(
    registry: Registry,
    version: VersionRecord,
    extractor: FeatureExtractor,
    split: str = "val",
) -> Reference:
    """The stored reference of ``version`` on ``split`` (verified by its sha256), or one
    computed now and stored (when the registry is writable)."""
    chosen = _check_split(split)
    name = reference_artifact(chosen)
    artifact = version.artifacts.get(name)
    if artifact is not None:
        data = read_verified(artifact.path, artifact.sha256, fix=f"delete {name} of {version.ref}")
        return Reference.from_bytes(data, source=f"{version.ref}/{name}")
    inputs, labels = reference_inputs(version, extractor, chosen)
    reference = Reference(
        split=chosen,
        version=version.ref,
        label_names=list(extractor.loaded.meta.label_names),
        labels=labels,
        inputs=extractor.extract(inputs),
    )
    if registry.read_only:
        logger.warning(
            "read-only registry: the %s reference of %s is not stored", split, version.ref
        )
    else:
        registry.add_artifact(version, name, reference.to_bytes())
        logger.info(
            "stored the %s drift reference of %s (%d inputs)", split, version.ref, reference.size
        )
    return reference
