"""A torch-free Predictor for a registered version: ONNX Runtime on the version's own files.

:func:`onnx_predictor` reads ``model.json``, ``vocab.json`` (text models) and ``model.onnx``
(``model.int8.onnx`` with ``int8``) of a version, each verified against the sha256 the
registry recorded (:func:`~neuroplast.registry.artifacts.read_verified`; artifacts of a
remote store are fetched into the local cache first). Neither this module nor the
predictor imports torch: a server that only answers with ONNX Runtime never loads it.
A version without its graph gets one from
:func:`~neuroplast.workflows.serving_artifacts.ensure_onnx` (which does import torch, once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.errors import ArtifactError
from neuroplast.inference.meta import ONNX, ONNX_INT8
from neuroplast.inference.onnx_predictor import OnnxPredictor
from neuroplast.registry.artifacts import RESTORE

if TYPE_CHECKING:
    from neuroplast.registry import Registry, VersionRecord

__all__ = ["onnx_predictor"]


def onnx_predictor(
    registry: Registry,
    version: VersionRecord | str,
    *,
    int8: bool = False,
    threads: int | None = None,
    batch_size: int = 256,
) -> OnnxPredictor:
    """The ONNX Runtime predictor of ``version`` (a record, or a ref such as ``rt-cnn:3``),
    fp32 or with ``int8`` ONNX Runtime's dynamic int8; ``threads`` intra-op threads (default:
    the physical cores), batches of at most ``batch_size`` inputs. A version without the
    graph raises :class:`ArtifactError` saying how to store it; a file that does not match
    its recorded hash raises one too, and nothing is loaded from it."""
    if isinstance(version, str):
        version = registry.resolve(version)
    name = ONNX_INT8 if int8 else ONNX
    if name not in version.artifacts:
        flag = " --int8" if int8 else ""
        raise ArtifactError(
            f"{version.ref} has no {name}: store it first with "
            f"neuroplast.workflows.serving_artifacts.ensure_onnx(registry, {version.ref!r}"
            f"{', int8=True' if int8 else ''}), or export a version that has it "
            f"(neuroplast export-onnx {version.ref} --format onnx{flag})"
        )
    local = registry.ensure_local(version)
    return OnnxPredictor.from_files(
        {n: a.path for n, a in local.artifacts.items()},
        int8=int8,
        hashes={n: a.sha256 for n, a in local.artifacts.items()},
        threads=threads,
        batch_size=batch_size,
        fix=RESTORE,
    )
