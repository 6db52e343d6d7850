"""What one request may hold, and the checks at the door: body bytes (413, on the declared
Content-Length and again on the bytes as they stream in), inputs per request, characters per
text and pixels per uploaded image (422), so that no request can make the server allocate
without bound."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neuroplast.errors import ConfigError, DataError

__all__ = [
    "BodyLimitMiddleware",
    "BodyTooLarge",
    "Limits",
    "check_texts",
    "decode_images",
]

_MB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Per-request limits; every one is checked before any model work."""

    max_body_bytes: int = 16 * _MB
    max_inputs: int = 1024
    max_text_chars: int = 10_000
    max_image_pixels: int = 4096 * 4096

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_inputs", "max_text_chars", "max_image_pixels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"serving limit {name} must be a whole number >= 1, not {value}")

    @classmethod
    def from_options(
        cls,
        *,
        max_body_mb: float | None = None,
        max_inputs: int | None = None,
        max_text_chars: int | None = None,
        max_image_pixels: int | None = None,
    ) -> Limits:
        """Limits from the CLI's options (``None`` keeps a default); body size in MiB."""
        given: dict[str, int] = {}
        if max_body_mb is not None:
            if not max_body_mb > 0:
                raise ConfigError(f"--max-body-mb must be > 0, not {max_body_mb}")
            given["max_body_bytes"] = max(1, int(max_body_mb * _MB))
        for name, value in (
            ("max_inputs", max_inputs),
            ("max_text_chars", max_text_chars),
            ("max_image_pixels", max_image_pixels),
        ):
            if value is not None:
                given[name] = value
        return cls(**given)

    def to_dict(self) -> dict[str, int]:
        return {
            "max_body_bytes": self.max_body_bytes,
            "max_inputs": self.max_inputs,
            "max_text_chars": self.max_text_chars,
            "max_image_pixels": self.max_image_pixels,
        }


class BodyTooLarge(HTTPException):
    """A request body over the limit (an HTTPException, so that the body parsers let it pass
    through to the error handlers unchanged)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"request body is larger than the server's limit of {limit:,} bytes; send fewer "
            "or smaller inputs, or start the server with a larger --max-body-mb",
        )
        self.limit = limit


def _error_body(code: str, message: str, detail: Any = None) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "detail": detail}}).encode()


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes: at once when Content-Length says so, and while
    reading when a body without one (chunked) or with a wrong one grows past it."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            error = BodyTooLarge(self.limit)
            await _send_json(send, 413, _error_body("body_too_large", error.detail))
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def check_texts(texts: Sequence[str], limits: Limits) -> None:
    """Inputs per request and characters per text, or a DataError naming the first culprit."""
    if not texts:
        raise DataError('"inputs" is empty; send one text or a list of at least one')
    if len(texts) > limits.max_inputs:
        raise DataError(
            f"{len(texts):,} inputs in one request, more than the limit of "
            f"{limits.max_inputs:,}; split them over several requests"
        )
    for i, text in enumerate(texts):
        if len(text) > limits.max_text_chars:
            raise DataError(
                f"input {i} has {len(text):,} characters, more than the limit of "
                f"{limits.max_text_chars:,}; shorten it (the model reads only its first tokens)"
            )


def decode_images(
    files: Sequence[tuple[str, bytes]], *, channels: int, size: int, limits: Limits
) -> np.ndarray:
    """Uploaded image files (name, bytes) -> uint8 [N, C, size, size]: greyscale or RGB as
    the model takes, resized bilinearly when not already ``size`` x ``size``."""
    from PIL import Image, UnidentifiedImageError

    from neuroplast._pixels import pixel_limit_guard

    if not files:
        raise DataError("no image in the request; upload one or more `file` parts")
    if len(files) > limits.max_inputs:
        raise DataError(
            f"{len(files):,} images in one request, more than the limit of "
            f"{limits.max_inputs:,}; split them over several requests"
        )
    arrays = []
    for i, (name, data) in enumerate(files):
        label = f"upload {i} ({name or 'unnamed'})"
        try:
            with pixel_limit_guard(Path(label)), Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > limits.max_image_pixels:
                    raise DataError(
                        f"{label} is {width}x{height} = {width * height:,} pixels, more than "
                        f"the limit of {limits.max_image_pixels:,}; shrink it (the model "
                        f"reads {size}x{size})"
                    )
                img = opened.convert("L" if channels == 1 else "RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise DataError(f"cannot read {label} as an image: {e}; send a PNG or JPEG") from e
        arrays.append(arr[None] if channels == 1 else arr.transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(arrays))
