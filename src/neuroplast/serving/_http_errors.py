"""The one error shape of the HTTP API, ``{"error": {"code", "message", "detail"}}``: the
handlers that turn every exception (FastAPI's and Starlette's own included) into it, and the
OpenAPI document that says so for every 4xx."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from neuroplast.errors import ConfigError, DataError, ModelNotFoundError, NeuroplastError
from neuroplast.serving import schemas as s
from neuroplast.serving.errors import QueueFull, ServingError

__all__ = [
    "CODES",
    "HttpError",
    "error_response",
    "error_responses",
    "install_error_handlers",
    "openapi_document",
]

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
}


class HttpError(HTTPException):
    """An error answer with its own stable ``code`` and ``detail``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, headers=headers)
        self.code = code
        self.extra = detail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": s.ErrorResponse, "description": CODES[status]} for status in statuses}


# ---- error answers ------------------------------------------------------------------------
def error_response(
    request: Request | None,
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    if request is not None:
        request.state.error_code = code
    body = {"error": {"code": code, "message": message, "detail": detail}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_detail(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")), "type": e.get("type")}
        for e in errors
    ]


def _validation_message(detail: list[dict[str, Any]]) -> str:
    if not detail:
        return "the request is not valid; see /docs for its shape"
    first = detail[0]
    where = ".".join(first["loc"]) or "request"
    more = f" (and {len(detail) - 1} more)" if len(detail) > 1 else ""
    return f"{where}: {first['msg']}{more}; see /docs for the request's shape"


def install_error_handlers(app: FastAPI) -> None:
    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, HTTPException):  # registered for HTTPException only
            raise exc
        headers = dict(exc.headers or {})
        if isinstance(exc, HttpError):
            return error_response(
                request, exc.status_code, exc.code, exc.detail, exc.extra, headers
            )
        status = exc.status_code
        message = str(exc.detail)
        if status == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; the API is listed at /docs"
        elif status == 405:
            allowed = headers.get("Allow") or headers.get("allow") or "see /docs"
            message = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}"
        code = CODES.get(status, "http_error")
        return error_response(request, status, code, message, None, headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError | ValidationError):
            raise exc  # registered for the validation errors only
        detail = _validation_detail(exc.errors())
        return error_response(request, 422, "invalid_request", _validation_message(detail), detail)

    async def on_neuroplast(request: Request, exc: Exception) -> JSONResponse:
        message = " ".join(str(exc).split())
        if isinstance(exc, ServingError):
            headers = None
            if isinstance(exc, QueueFull):
                headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
            return error_response(request, exc.status, exc.code, message, exc.detail, headers)
        if isinstance(exc, DataError):
            return error_response(request, 422, "invalid_input", message)
        if isinstance(exc, ConfigError):
            return error_response(request, 422, "invalid_option", message)
        if isinstance(exc, ModelNotFoundError):
            return error_response(request, 404, "not_found", message)
        log.error("request %s %s failed: %s", request.method, request.url.path, message)
        return error_response(request, 500, "server_error", message)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(
            request,
            500,
            "internal_error",
            f"unexpected {type(exc).__name__} on the server; its log has the details",
        )

    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(NeuroplastError, on_neuroplast)
    app.add_exception_handler(Exception, on_unexpected)


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with its default 422 body (which this app never sends) replaced
    by the one error shape every error has."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        spec = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        ours = {"$ref": "#/components/schemas/ErrorResponse"}
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if int(status) >= 400:
                        response["content"] = {"application/json": {"schema": ours}}
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas.setdefault("ErrorResponse", s.ErrorResponse.model_json_schema())
        app.openapi_schema = spec
    return app.openapi_schema
