"""Drift in what logged texts are about: the shipped MiniLM's sentence vectors of the
traffic against those of the reference split, for any text model.

The pooled-features test reads the served model's own representation, which moves only
where the model learned to look (a word-level CNN barely tells a film review from a
product review if both are positive). A sentence encoder trained on a billion sentence
pairs places texts by topic and style whatever the served model learned, so a change of
subject shows there even when the model's features do not move. Vectors come through the
registry's embedding cache (:class:`neuroplast.encoders.Embeddings`): the reference sample
is encoded once and read back on every later check; the logged texts are encoded once each.
The test is the same :class:`ProjectedKSTest` as the model's features (PCA fitted on the
pooled sample, KS per component, Bonferroni).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.monitoring.features import FeatureExtractor
    from neuroplast.registry import Registry, VersionRecord

__all__ = ["EmbeddingSample", "check_encoder", "embedding_sample", "embedding_test_name"]


def embedding_test_name(encoder: str) -> str:
    return f"{encoder} sentence embeddings (PCA-KS)"


def check_encoder(encoder: str) -> None:
    """A clear error for a name that is no shipped sentence encoder (before any work)."""
    from neuroplast.encoders import list_encoders

    if encoder not in list_encoders():
        raise ConfigError(
            f"unknown encoder {encoder!r} for --embeddings; choose one of: "
            f"{', '.join(list_encoders())}"
        )


@dataclass(frozen=True)
class EmbeddingSample:
    """Sentence vectors of the reference ``[N, D]`` and of each window ``[W, D]``."""

    encoder: str  # the encoder's id (name@weights)
    name: str  # the test's name in the report
    reference: np.ndarray
    windows: list[np.ndarray]


def embedding_sample(
    registry: Registry,
    version: VersionRecord,
    extractor: FeatureExtractor,
    split: str,
    windows: Sequence[Sequence[str]],
    encoder: str = "minilm",
) -> EmbeddingSample:
    """Embed the reference sample of ``split`` (the same seeded texts as the stored
    reference) and each window's logged texts with ``encoder``."""
    from neuroplast.encoders import Embeddings
    from neuroplast.monitoring.reference import reference_inputs

    check_encoder(encoder)
    if extractor.modality != "text":
        raise ConfigError(
            f"--embeddings compares sentence vectors of texts, and {version.ref} reads "
            f"{extractor.modality}s; leave it out for this model"
        )
    texts, _ = reference_inputs(version, extractor, split)
    service = Embeddings(registry)
    reference = service.embed([str(t) for t in texts], encoder)
    per_window = [service.embed(list(window), encoder) for window in windows]
    encoder_id = service.last_call.encoder if service.last_call else encoder
    return EmbeddingSample(encoder_id, embedding_test_name(encoder), reference, per_window)
