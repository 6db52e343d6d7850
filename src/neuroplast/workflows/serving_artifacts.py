"""The portable files a served version needs, stored in the registry on first use.

``neuroplast serve`` answers with ONNX Runtime where it can: :func:`ensure_onnx` gives a
version its ``model.onnx`` (``model.int8.onnx`` with ``int8``) and, for a text model,
``tokenizer.json`` when it lacks them: exported from its bundle and checked against eager
PyTorch as ``neuroplast export-onnx`` does
(:func:`~neuroplast.inference.onnx_files.onnx_artifacts`), then stored with
:meth:`~neuroplast.registry.Registry.add_artifact`. A version that has them is returned as
it is, with no torch imported; torch is imported only to export. Two
processes that store the same version at once (``--workers N`` starting together) write the
same bytes: the export and the tokenizer file are deterministic, so either's record holds.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from typing import TYPE_CHECKING

from neuroplast.errors import ArtifactError, RegistryError
from neuroplast.inference.meta import META, ONNX, ONNX_INT8, VOCAB, ModelMeta
from neuroplast.registry.artifacts import read_verified
from neuroplast.tokens.hf import TOKENIZER

if TYPE_CHECKING:
    from neuroplast.registry import Registry, VersionRecord

__all__ = ["ensure_onnx", "missing_artifacts"]

logger = logging.getLogger(__name__)


def _meta(version: VersionRecord) -> ModelMeta:
    artifact = version.artifacts.get(META)
    if artifact is None:
        raise ArtifactError(f"{version.ref} has no {META}; re-train or re-import it")
    data = read_verified(artifact.path, artifact.sha256)
    try:
        payload = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"artifact {artifact.path} is not valid JSON: {e}") from e
    return ModelMeta.from_json(payload, artifact.path)


def missing_artifacts(version: VersionRecord, *, int8: bool = False) -> list[str]:
    """The portable files ``version`` lacks to be served on ONNX Runtime (fp32, or int8
    with ``int8``): the graph, and ``tokenizer.json`` for a text model with a vocabulary
    (when Hugging Face ``tokenizers`` is installed to write it)."""
    wanted = [ONNX, ONNX_INT8] if int8 else [ONNX]
    has_vocab = version.modality == "text" and VOCAB in version.artifacts
    if has_vocab and importlib.util.find_spec("tokenizers") is not None:
        wanted.append(TOKENIZER)
    return [name for name in wanted if name not in version.artifacts]


def ensure_onnx(
    registry: Registry, version: VersionRecord | str, *, int8: bool = False
) -> VersionRecord:
    """``version`` (a record, or a ref such as ``rt-cnn:3``) with ``model.onnx`` (and
    ``model.int8.onnx`` with ``int8``) and, for a text model, ``tokenizer.json`` stored in
    the registry: those it lacks are exported once (see the module doc) and added; the
    version as the registry now records it is returned (reading nothing when it lacks
    nothing). Raises :class:`ConfigError` for a statically quantized version (its int8
    kernels have no ONNX export here) and :class:`RegistryError` when something must be
    stored but the registry is read-only."""
    if isinstance(version, str):
        version = registry.resolve(version)
    missing = missing_artifacts(version, int8=int8)
    if not missing:
        return version
    from neuroplast.inference.onnx_files import check_exportable

    check_exportable(_meta(registry.ensure_local(version)), version.ref)
    if registry.read_only:
        raise RegistryError(
            f"{version.ref} has no {', '.join(missing)} and the registry in {registry.home} is "
            f"read-only ({registry.read_only_reason}): export it once where the registry is "
            f"writable (neuroplast export-onnx {version.ref}{' --int8' if int8 else ''}, or "
            "serve it there once), or serve it with --backend torch"
        )
    return _store(registry, version, missing, int8=int8)


def _store(
    registry: Registry, version: VersionRecord, missing: list[str], *, int8: bool
) -> VersionRecord:
    # torch from here on: the export needs the model
    from neuroplast.inference.bundle import load_bundle
    from neuroplast.inference.onnx_files import onnx_artifacts

    local = registry.ensure_local(version)
    hashes = {name: a.sha256 for name, a in local.artifacts.items() if "/" not in name}
    loaded = load_bundle(local.artifact_dir, hashes)
    stored = local.artifacts.get(ONNX)
    onnx = None
    if stored is not None:  # the graph is kept; only what derives from it is added
        onnx = read_verified(stored.path, stored.sha256, fix=f"re-export {version.ref}")
    files = onnx_artifacts(loaded, ref=version.ref, int8=int8, onnx=onnx)
    for name in missing:
        if name in files:  # tokenizer.json needs Hugging Face tokenizers (logged when absent)
            version = registry.add_artifact(version, name, files[name])
    logger.info("%s: stored %s", version.ref, ", ".join(n for n in missing if n in files))
    return version
