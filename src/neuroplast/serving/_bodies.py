"""Reading a request's inputs: JSON texts or multipart image uploads, checked against the
served model and the server's limits before any model work."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import Request
from starlette.datastructures import UploadFile

from neuroplast.errors import DataError
from neuroplast.serving import schemas as s
from neuroplast.serving._http_errors import HttpError
from neuroplast.serving.limits import Limits, decode_images

if TYPE_CHECKING:
    from neuroplast.serving.pool import ServedModel

__all__ = [
    "JSON",
    "MULTIPART",
    "check_top_k",
    "form_images",
    "image_spec",
    "input_spec",
    "int_field",
    "is_image",
    "json_body",
    "media_type",
    "new_request_id",
    "openapi_body",
    "unsupported",
]

JSON = "application/json"
MULTIPART = "multipart/form-data"


def openapi_body(
    json_schema: dict[str, Any], file: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that reads a JSON body or a multipart upload: the
    JSON schema, and the multipart form's ``file`` part beside its other ``fields``."""
    form = {"type": "object", "required": ["file"], "properties": {"file": file, **fields}}
    return {
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": json_schema}, MULTIPART: {"schema": form}},
        }
    }


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def unsupported(request: Request, what: str) -> HttpError:
    given = media_type(request) or "none"
    return HttpError(
        415,
        "unsupported_media_type",
        f"content type {given} is not accepted here; send {what}",
    )


async def json_body(request: Request, model: type[s._Request]) -> Any:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HttpError(422, "invalid_json", f"the body is not valid JSON: {e}") from e
    return model.model_validate(data)


def is_image(served: ServedModel) -> bool:
    return str(getattr(served, "modality", "text")) == "image"


def input_spec(served: ServedModel) -> dict[str, Any]:
    spec = getattr(served, "input", None) or {}
    return dict(spec) if isinstance(spec, dict) else dict(vars(spec))


def image_spec(served: ServedModel) -> tuple[int, int]:
    spec = input_spec(served)
    channels, size = spec.get("channels"), spec.get("size")
    if not channels or not size:
        raise DataError(f"{served.name} does not record its image channels and size")
    return int(channels), int(size)


async def form_images(
    request: Request, limits: Limits, served: ServedModel, allowed: set[str]
) -> tuple[np.ndarray, dict[str, str]]:
    """The ``file`` parts of a multipart body decoded to uint8 [N, C, H, W], and the other
    fields (only names in ``allowed``)."""
    if not is_image(served):
        raise DataError(
            f"{served.name} is a text model: send JSON, e.g. "
            '{"inputs": ["a text", "another"]}, with content-type application/json'
        )
    limit = limits.max_inputs
    form = await request.form(max_files=limit + 1, max_fields=len(allowed) + limit + 1)
    files: list[tuple[str, bytes]] = []
    fields: dict[str, str] = {}
    try:
        for key, value in form.multi_items():
            if key == "file" and isinstance(value, UploadFile):
                files.append((value.filename or "", await value.read()))
            elif key in allowed and isinstance(value, str):
                fields[key] = value
            else:
                names = ", ".join(sorted({"file", *allowed}))
                raise DataError(f"unexpected form field {key!r}; the fields are: {names}")
    finally:
        await form.close()
    channels, size = image_spec(served)
    images = await asyncio.to_thread(
        decode_images, files, channels=channels, size=size, limits=limits
    )
    return images, fields


def int_field(fields: dict[str, str], name: str, default: int) -> int:
    if name not in fields:
        return default
    try:
        return int(fields[name])
    except ValueError:
        raise DataError(f"form field {name} must be a whole number, not {fields[name]!r}") from None


def check_top_k(top_k: int, served: ServedModel) -> None:
    labels = list(getattr(served, "label_names", None) or [])
    if top_k < 1 or (labels and top_k > len(labels)):
        raise DataError(f"top_k must be between 1 and {len(labels) or 'the number of labels'}")


def new_request_id() -> str:
    return uuid.uuid4().hex
