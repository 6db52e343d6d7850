"""Whether a bundle's model is what its files say, checked by ``models import`` before
anything is registered, so that no imported version fails or exhausts memory when loaded.

``model.json`` must describe a registered architecture with a valid config, labels for
each class and sane preprocessing. The model is then built on PyTorch's ``meta`` device
(shapes, no memory) and its tensors must be exactly those of ``weights.safetensors``, names
and shapes, read from the file's header without loading a tensor; the tensors the model
keeps outside its weights (the transformer's position table) may take at most as much
memory as the weights, or :data:`BUFFER_ALLOWANCE`. A vocabulary must fit the embedding.

This is the one module of the registry that imports torch and the architectures (lazily,
when a bundle is imported): only the model registry can say what a model's weights are.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from neuroplast._version import ARTIFACT_SCHEMA_VERSION
from neuroplast.errors import ArtifactError, ConfigError, DataError
from neuroplast.model_meta import META, VOCAB, WEIGHTS, ModelMeta
from neuroplast.registry._bundle import StagedFile
from neuroplast.registry._manifest import REEXPORT, Manifest, human_bytes, parse_json

if TYPE_CHECKING:
    from torch import nn

    from neuroplast.models import ArchConfig

__all__ = ["check_model"]

MAX_META_BYTES = 4 * 1024**2
MAX_VOCAB_BYTES = 32 * 1024**2
BUFFER_ALLOWANCE = 64 * 1024**2
MAX_IMAGE_SIDE = 4096
MAX_TOKENS = 1 << 20


class _ModelJson(BaseModel):
    """``model.json`` as :meth:`~neuroplast.inference.ModelMeta.to_json` writes it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: Literal["neuroplast-model"]
    schema_version: int = Field(ge=1, le=ARTIFACT_SCHEMA_VERSION)
    neuroplast_version: str = ""
    name: str = ""
    version: int = Field(default=0, ge=0)
    architecture: str
    modality: Literal["text", "image"]
    task: str
    arch_config: dict[str, Any]
    label_names: list[str]
    preprocessing: dict[str, Any]
    data: dict[str, Any] = Field(default_factory=dict)
    compression: dict[str, Any] = Field(default_factory=dict)


class _TooManyTensors(Exception):
    pass


def check_model(where: str, manifest: Manifest, files: Mapping[str, StagedFile]) -> int | None:
    """The parameter count of the bundle's model; ``None`` for a bundle without a model
    (neither ``model.json`` nor weights). :class:`ArtifactError` when anything disagrees."""
    from neuroplast.models import count_parameters

    _known_architecture(where, manifest.architecture, "its manifest")
    if META not in files and WEIGHTS not in files:
        return None
    for present, needed in ((META, WEIGHTS), (WEIGHTS, META)):
        if needed not in files:
            raise ArtifactError(
                f"{where} holds {present} but no {needed}; a model needs both, {REEXPORT}"
            )
    meta = _read_meta(where, files[META])
    if meta.modality != manifest.modality:
        raise ArtifactError(
            f"{where}: model.json says modality {meta.modality!r} but the manifest says "
            f"{manifest.modality!r}; {REEXPORT}"
        )
    typed = _typed_config(where, meta)
    shapes = _weight_shapes(where, files[WEIGHTS].path)
    # a model whose weights are few beside a fixed pretrained base declares that base's size
    fixed = _fixed_registrations(meta.architecture)
    model = _build_on_meta(where, meta.architecture, typed, budget=4 * len(shapes) + 64 + fixed)
    _compare(where, meta.architecture, typed, model, shapes)
    _check_buffers(where, meta.architecture, model, files[WEIGHTS].size)
    if meta.modality == "text" and VOCAB in files:
        _check_vocab(where, files[VOCAB], int(getattr(typed, "vocab_size", 0)))
    return count_parameters(model)


def _known_architecture(where: str, architecture: str, what: str) -> None:
    from neuroplast.models import list_models

    known = list_models()
    if architecture not in known:
        raise ArtifactError(
            f"{where}: {what} names the architecture {architecture!r}, which this neuroplast "
            f"does not know (it knows {', '.join(known)}); upgrade neuroplast to import it"
        )


def _fixed_registrations(architecture: str) -> int:
    """What the architecture registers whatever its config (``bundle_registrations``: a
    pretrained encoder whose saved weights are only an adapter and a head)."""
    from neuroplast.models import get_spec

    return int(getattr(get_spec(architecture).model_cls, "bundle_registrations", 0))


def _read_meta(where: str, file: StagedFile) -> ModelMeta:
    if file.size > MAX_META_BYTES:
        raise ArtifactError(
            f"{where}: model.json is {human_bytes(file.size)}, more than the "
            f"{human_bytes(MAX_META_BYTES)} a model description may take; {REEXPORT}"
        )
    payload = parse_json(file.path.read_bytes(), f"{where}: model.json")
    if isinstance(payload, dict):
        schema = payload.get("schema_version")
        if isinstance(schema, int) and schema > ARTIFACT_SCHEMA_VERSION:
            raise ArtifactError(
                f"{where}: model.json was written by a newer neuroplast; upgrade to import it"
            )
    try:
        _ModelJson.model_validate(payload)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'the whole file'}: {err['msg'].lower()}"
            for err in e.errors()[:4]
        )
        raise ArtifactError(
            f"{where}: model.json is not a valid model description ({problems}); {REEXPORT}"
        ) from e
    return ModelMeta.from_json(payload, Path("model.json"))


def _typed_config(where: str, meta: ModelMeta) -> ArchConfig:
    from neuroplast.models import get_spec, validate_config

    _known_architecture(where, meta.architecture, "model.json")
    spec = get_spec(meta.architecture)
    if spec.modality != meta.modality:
        raise ArtifactError(
            f"{where}: model.json says its {meta.architecture} is a {meta.modality} model, but "
            f"{meta.architecture} takes {spec.modality} inputs; {REEXPORT}"
        )
    try:
        typed = validate_config(meta.architecture, meta.arch_config)
    except ConfigError as e:
        raise ArtifactError(f"{where}: model.json: {e}") from e
    if len(meta.label_names) != typed.num_classes:
        raise ArtifactError(
            f"{where}: model.json names {len(meta.label_names)} labels for num_classes="
            f"{typed.num_classes}; {REEXPORT}"
        )
    _check_preprocessing(where, meta, typed)
    return typed


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_preprocessing(where: str, meta: ModelMeta, typed: ArchConfig) -> None:
    pre = meta.preprocessing
    bad: list[str] = [
        k for k in ("min_length", "max_length") if k in pre and not _is_int(pre[k], 0, MAX_TOKENS)
    ]
    bad += [
        k
        for k in ("mean", "std")
        if k in pre and (isinstance(pre[k], bool) or not isinstance(pre[k], int | float))
    ]
    side = getattr(typed, "image_size", None)
    shape = pre.get("image_shape")
    if shape is not None:
        wanted = [getattr(typed, "in_channels", None), side, side]
        if shape != wanted:
            bad.append(f"image_shape (not {wanted}, as arch_config says)")
    if bad:
        raise ArtifactError(
            f"{where}: model.json's preprocessing has a bad {', '.join(bad)} (lengths are "
            f"whole numbers up to {MAX_TOKENS}, mean and std numbers); {REEXPORT}"
        )
    if side is not None and side > MAX_IMAGE_SIDE:
        raise ArtifactError(
            f"{where}: model.json's image_size={side} is above {MAX_IMAGE_SIDE}; every input "
            f"would be resized to it, {REEXPORT}"
        )


def _weight_shapes(where: str, path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape, from the safetensors header (no tensor is read)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            return {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as e:
        raise ArtifactError(
            f"{where}: weights.safetensors is not a valid safetensors file ({e}); {REEXPORT}"
        ) from e


def _build_on_meta(where: str, architecture: str, typed: ArchConfig, *, budget: int) -> nn.Module:
    """The model on the meta device. Its size is free there, but not the number of its
    modules: a config asking for a million layers is stopped after ``budget`` registrations
    (modules, parameters and buffers; the built-in architectures make about two per tensor)."""
    import torch
    from torch.nn.modules import module as torch_module

    from neuroplast.models import create_model

    thread = threading.get_ident()
    count = 0

    def guard(*_: object) -> None:
        nonlocal count
        if threading.get_ident() == thread:
            count += 1
            if count > budget:
                raise _TooManyTensors

    handles = [
        torch_module.register_module_module_registration_hook(guard),
        torch_module.register_module_parameter_registration_hook(guard),
        torch_module.register_module_buffer_registration_hook(guard),
    ]
    try:
        with torch.device("meta"):
            return create_model(architecture, typed)
    except _TooManyTensors:
        raise ArtifactError(
            f"{where}: model.json's arch_config asks for a {architecture} with far more layers "
            f"than weights.safetensors holds tensors; {REEXPORT}"
        ) from None
    except (ConfigError, RuntimeError, ValueError, TypeError) as e:
        raise ArtifactError(
            f"{where}: model.json's arch_config does not build a {architecture} ({e}); {REEXPORT}"
        ) from e
    finally:
        for handle in handles:
            handle.remove()


def _compare(
    where: str,
    architecture: str,
    typed: ArchConfig,
    model: nn.Module,
    shapes: Mapping[str, tuple[int, ...]],
) -> None:
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    missing = sorted(set(expected) - set(shapes))
    unknown = sorted(set(shapes) - set(expected))
    if missing or unknown:
        what = [f"lacks {', '.join(missing[:3])}"] if missing else []
        what += [f"holds {', '.join(unknown[:3])}, which it has not"] if unknown else []
        raise ArtifactError(
            f"{where}: weights.safetensors does not fit the {architecture} that model.json "
            f"describes (it {' and '.join(what)}); {REEXPORT}"
        )
    for name in expected:  # in the model's order: the embedding first, the head last
        want, have = expected[name], shapes[name]
        if want != have:
            ints = {
                k: v
                for k, v in typed.model_dump().items()
                if isinstance(v, int) and not isinstance(v, bool)
            }
            culprits = [f"{k}={v}" for k, v in ints.items() if v in want and v not in have]
            hint = f" ({', '.join(culprits)} disagrees with the weights)" if culprits else ""
            raise ArtifactError(
                f"{where}: model.json's arch_config does not match weights.safetensors: "
                f"{name} is {list(have)} in the weights but {list(want)} for the config{hint}; "
                f"{REEXPORT}"
            )


def _check_buffers(where: str, architecture: str, model: nn.Module, weights_bytes: int) -> None:
    saved = set(model.state_dict())
    extra = sum(
        b.numel() * b.element_size() for name, b in model.named_buffers() if name not in saved
    )
    allowance = max(weights_bytes, BUFFER_ALLOWANCE)
    if extra > allowance:
        raise ArtifactError(
            f"{where}: the {architecture} that model.json describes would build "
            f"{human_bytes(extra)} of tables besides its weights (at most "
            f"{human_bytes(allowance)}); check its arch_config (max_seq_length?), {REEXPORT}"
        )


def _check_vocab(where: str, file: StagedFile, vocab_size: int) -> None:
    from neuroplast.tokens import Vocabulary

    if file.size > MAX_VOCAB_BYTES:
        raise ArtifactError(
            f"{where}: vocab.json is {human_bytes(file.size)}, more than the "
            f"{human_bytes(MAX_VOCAB_BYTES)} a vocabulary may take; {REEXPORT}"
        )
    payload = parse_json(file.path.read_bytes(), f"{where}: vocab.json")
    tokens = payload.get("tokens") if isinstance(payload, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ArtifactError(f"{where}: vocab.json has no 'tokens' list of strings; {REEXPORT}")
    if len(set(tokens)) != len(tokens):
        raise ArtifactError(f"{where}: vocab.json repeats tokens; {REEXPORT}")
    try:
        vocab = Vocabulary.from_dict(payload)
    except DataError as e:
        raise ArtifactError(f"{where}: vocab.json: {e}") from e
    if len(vocab) > vocab_size:
        raise ArtifactError(
            f"{where}: vocab.json holds {len(vocab)} tokens but the model's vocab_size is "
            f"{vocab_size} (token ids must be below it); {REEXPORT}"
        )
