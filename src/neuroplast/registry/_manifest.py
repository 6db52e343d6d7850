"""What a bundle's ``manifest.json`` must be, checked whole before any file is read.

:class:`Manifest` refuses unknown keys, missing keys and wrong types (strict: no ``"3"`` for
3); the file names must be safe relative paths (letters, digits, ``.``, ``_`` and ``-`` in
parts joined by ``/``, no part starting with ``.``, at most 100 characters), none a folder
of another nor differing from another only in case, and ``sizes`` must name the same files.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from neuroplast._version import ARTIFACT_SCHEMA_VERSION
from neuroplast.errors import ArtifactError

__all__ = [
    "FORMAT",
    "MAX_FILES",
    "REEXPORT",
    "LineageEntry",
    "Manifest",
    "human_bytes",
    "parse_json",
    "validate_manifest",
]

FORMAT = "neuroplast-bundle"
MAX_FILES = 1000
#: How every refusal ends: what the person importing can do about it.
REEXPORT = "re-export it with `neuroplast models export-bundle`"
_MAX_INT = 2**31 - 1  # the registry's integer columns are 32-bit on PostgreSQL
#: One part of a file name: what the registry's own artifacts use (``plots/roc.png``).
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_MAX_NAME = 100  # the artifacts.name column

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LineageEntry(_Strict):
    ref: str
    uid: str
    source: str
    created_at: str


class Manifest(_Strict):
    """``manifest.json``: what :func:`~neuroplast.registry.transfer.export_version` writes."""

    format: Literal["neuroplast-bundle"]
    schema_version: int = Field(ge=1, le=ARTIFACT_SCHEMA_VERSION)
    neuroplast_version: str
    model: str
    version: int = Field(ge=1, le=_MAX_INT)
    uid: str
    architecture: str
    task: str
    modality: Literal["text", "image"]
    source: str
    stage: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    params_count: int = Field(ge=0, le=_MAX_INT)
    lineage: list[LineageEntry]
    #: file name (relative, ``/``-separated) -> sha256
    files: dict[str, Sha256]
    #: file name -> bytes (older exports have none: then only the limit bounds each file)
    sizes: dict[str, Annotated[int, Field(ge=0)]] | None = None


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice")
        out[key] = value
    return out


def parse_json(data: bytes, where: str) -> Any:
    """JSON with unique keys; an :class:`ArtifactError` naming ``where`` otherwise."""
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ArtifactError(f"{where} is not valid JSON: {e}; {REEXPORT}") from e


def _describe(error: ValidationError) -> str:
    problems = []
    errors = error.errors()
    for err in errors[:4]:
        loc = ".".join(str(part) for part in err["loc"])
        if err["type"] == "missing":
            problems.append(f"lacks {loc!r}")
        elif err["type"] == "extra_forbidden":
            problems.append(f"has an unknown key {loc!r}")
        else:
            shown = repr(err["input"])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            problems.append(f"{loc!r}: {err['msg'].lower()} (got {shown})")
    if len(errors) > 4:
        problems.append(f"and {len(errors) - 4} more problems")
    return "; ".join(problems)


def _check_names(where: str, manifest: Manifest) -> None:
    names = list(manifest.files)
    if len(names) > MAX_FILES:
        raise ArtifactError(f"{where} lists {len(names)} files, more than {MAX_FILES}; {REEXPORT}")
    for name in names:
        parts = name.split("/")
        if len(name) > _MAX_NAME or not all(_PART.fullmatch(p) for p in parts):
            raise ArtifactError(
                f"{where}: unsafe file name {name!r} in the manifest (a name is at most "
                f"{_MAX_NAME} characters: letters, digits, '.', '_' and '-' in parts joined by "
                f"'/', no part starting with '.'); {REEXPORT}"
            )
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise ArtifactError(
                f"{where}: the manifest names both {other!r} and {name!r}, which differ only "
                f"in case; {REEXPORT}"
            )
    files = {name.casefold(): name for name in names}
    for name in names:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder.casefold() in files:
                raise ArtifactError(
                    f"{where}: the manifest names {files[folder.casefold()]!r} as a file and "
                    f"also {name!r} inside it as a folder; {REEXPORT}"
                )
    if manifest.sizes is not None and set(manifest.sizes) != set(manifest.files):
        odd = sorted(set(manifest.sizes) ^ set(manifest.files))
        raise ArtifactError(
            f"{where}: the manifest's 'sizes' and 'files' name different files ({odd[0]!r}); "
            f"{REEXPORT}"
        )


def validate_manifest(where: str, payload: Any) -> Manifest:
    """The parsed ``manifest.json`` of the bundle ``where``, checked; else an ArtifactError."""
    if not isinstance(payload, dict):
        raise ArtifactError(
            f"{where}: manifest.json must be a JSON object, got a {type(payload).__name__}; "
            "is it a neuroplast bundle?"
        )
    if payload.get("format") != FORMAT:
        raise ArtifactError(f"{where} is not a neuroplast bundle (its manifest has no format)")
    schema = payload.get("schema_version")
    if isinstance(schema, int) and schema > ARTIFACT_SCHEMA_VERSION:
        raise ArtifactError(
            f"{where} was made by a newer neuroplast (bundle schema {schema}, this one reads "
            f"{ARTIFACT_SCHEMA_VERSION}); upgrade neuroplast to import it"
        )
    try:
        manifest = Manifest.model_validate(payload)
    except ValidationError as e:
        raise ArtifactError(
            f"{where}: manifest.json is not valid: {_describe(e)}; the bundle is damaged or was "
            f"edited, {REEXPORT}"
        ) from e
    _check_names(where, manifest)
    return manifest
