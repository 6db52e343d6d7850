"""The HTTP API of ``neuroplast serve``: a FastAPI app over a :class:`ModelPool`.

``create_app(registry, models, settings)`` builds it; FastAPI's ``lifespan`` starts loading
the models in the background (``/ready`` answers 503 until every one is loaded, ``/health``
200 at once) and, at shutdown, drains every queue and flushes the prediction log. Every error
the app answers, FastAPI's own included, is ``{"error": {"code", "message", "detail"}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neuroplast.errors import (
    ArtifactError,
    ConfigError,
    DataError,
    ModelNotFoundError,
    NeuroplastError,
    RegistryError,
)
from neuroplast.serving import schemas as s
from neuroplast.serving.errors import ModelNotServed, NotReady, QueueFull, ServingError
from neuroplast.serving.limits import BodyLimitMiddleware, Limits, check_texts, decode_images
from neuroplast.serving.metrics import CONTENT_TYPE, ServingMetrics

if TYPE_CHECKING:
    from neuroplast.registry import Registry
    from neuroplast.serving.pool import ModelPool, ServedModel, ServeSettings

__all__ = ["API_KEY_ENV", "HttpError", "create_app"]

log = logging.getLogger(__name__)

#: The environment variable that holds the admin key (unset: admin endpoints answer 403).
API_KEY_ENV = "NEUROPLAST_API_KEY"
PAGE = Path(__file__).with_name("static") / "index.html"
_CODES = {
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


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": s.ErrorResponse, "description": _CODES[status]} for status in statuses
    }


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


def _install_error_handlers(app: FastAPI) -> None:
    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
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
        code = _CODES.get(status, "http_error")
        return error_response(request, status, code, message, None, headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
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


def _openapi(app: FastAPI) -> dict[str, Any]:
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


# ---- metrics per request ----------------------------------------------------------------
class _RequestMetrics:
    """Counts every answered request in the app's metrics, with the model and version the
    route handler recorded in ``request.state`` (``""`` for routes of no model)."""

    def __init__(self, app: ASGIApp, *, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        state = scope.setdefault("state", {})

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "name", None) or "unmatched"
            code = state.get("error_code") or ("internal_error" if status >= 500 else None)
            if status >= 400 and code is None:
                code = _CODES.get(status, "http_error")
            self.metrics.observe_request(
                model=state.get("model", ""),
                version=state.get("version", ""),
                endpoint=endpoint,
                status=status,
                seconds=time.perf_counter() - start,
                error_code=code,
            )


# ---- the app ------------------------------------------------------------------------------
class _Serving:
    """What the routes share: the pool, the limits, the metrics and the admin key."""

    def __init__(
        self,
        registry: Registry,
        pool: ModelPool,
        limits: Limits,
        metrics: ServingMetrics,
        api_key: str | None,
    ) -> None:
        self.registry = registry
        self.pool = pool
        self.limits = limits
        self.metrics = metrics
        self.api_key = api_key
        self.loading: asyncio.Task[None] | None = None
        self.load_error: str | None = None

    def served(self, request: Request, name: str) -> ServedModel:
        self.require_ready()
        for model in self.pool.models():
            if model.name == name:
                request.state.model = name
                return model
        names = ", ".join(m.name for m in self.pool.models()) or "none"
        raise ModelNotServed(
            f"this server does not serve a model named {name!r}; it serves: {names}"
        )

    def require_ready(self) -> None:
        if self.load_error is not None:
            raise NotReady(f"the models failed to load: {self.load_error}")
        if not self.pool.ready:
            raise NotReady("the server is still loading its models; retry when /ready says 200")


def _serving(request: Request) -> _Serving:
    serving: _Serving = request.app.state.serving
    return serving


_bearer = HTTPBearer(auto_error=False, description=f"The server's {API_KEY_ENV}.")


def require_admin(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """Admin routes need ``Authorization: Bearer $NEUROPLAST_API_KEY`` (403 when the server
    has no key: admin over HTTP is off until one is set)."""
    key = _serving(request).api_key
    if not key:
        raise HttpError(
            403,
            "admin_disabled",
            f"admin endpoints are off on this server: start it with {API_KEY_ENV} set, then "
            "send `Authorization: Bearer <key>`",
        )
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), key.encode()):
        raise HttpError(
            401,
            "unauthorized",
            f"missing or wrong API key: send `Authorization: Bearer <{API_KEY_ENV}>`",
            headers={"WWW-Authenticate": "Bearer"},
        )


def create_app(
    registry: Registry,
    models: Sequence[str] | None = None,
    settings: ServeSettings | None = None,
    *,
    limits: Limits | None = None,
    api_key: str | None = None,
    pool: ModelPool | None = None,
) -> FastAPI:
    """The ASGI app serving ``models`` (``None``: every model with a production version)
    from ``registry``. ``api_key`` defaults to ``$NEUROPLAST_API_KEY``; ``pool`` replaces the
    :class:`ModelPool` the app would build (it is started and stopped by the app)."""
    from neuroplast import __version__
    from neuroplast.serving.pool import ModelPool, ServeSettings

    metrics = ServingMetrics()
    limits = limits or Limits()
    if pool is None:
        pool = ModelPool(registry, models, settings or ServeSettings(), observer=metrics)
    serving = _Serving(
        registry,
        pool,
        limits,
        metrics,
        api_key if api_key is not None else os.environ.get(API_KEY_ENV),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def load() -> None:
            try:
                await serving.pool.start()
            except NeuroplastError as e:  # a user-facing reason: /ready reports it
                serving.load_error = " ".join(str(e).split())
                log.info("loading the served models failed: %s", serving.load_error)
            except Exception as e:  # a defect: /ready says so, the log has the traceback
                serving.load_error = f"unexpected {type(e).__name__}: {e}"
                log.error("loading the served models failed", exc_info=e)

        serving.loading = asyncio.create_task(load())
        try:
            yield
        finally:
            if not serving.loading.done():
                serving.loading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await serving.loading
            await serving.pool.stop()

    app = FastAPI(
        title="neuroplast",
        version=__version__,
        description="Predictions, explanations and feedback for the models of a neuroplast "
        'registry. Every error is `{"error": {"code", "message", "detail"}}`.',
        lifespan=lifespan,
    )
    app.state.serving = serving
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    _install_error_handlers(app)
    _add_routes(app)
    app.add_middleware(BodyLimitMiddleware, limit=limits.max_body_bytes)
    app.add_middleware(_RequestMetrics, metrics=metrics)
    return app


# ---- request bodies -----------------------------------------------------------------------
_JSON = "application/json"
_MULTIPART = "multipart/form-data"


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _unsupported(request: Request, what: str) -> HttpError:
    given = _media_type(request) or "none"
    return HttpError(
        415,
        "unsupported_media_type",
        f"content type {given} is not accepted here; send {what}",
    )


async def _json_body(request: Request, model: type[s._Request]) -> Any:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HttpError(422, "invalid_json", f"the body is not valid JSON: {e}") from e
    return model.model_validate(data)


def _is_image(served: ServedModel) -> bool:
    return str(getattr(served, "modality", "text")) == "image"


def _input(served: ServedModel) -> dict[str, Any]:
    spec = getattr(served, "input", None) or {}
    return dict(spec) if isinstance(spec, dict) else dict(vars(spec))


def _image_spec(served: ServedModel) -> tuple[int, int]:
    spec = _input(served)
    channels, size = spec.get("channels"), spec.get("size")
    if not channels or not size:
        raise DataError(f"{served.name} does not record its image channels and size")
    return int(channels), int(size)


async def _form_files(
    request: Request, serving: _Serving, served: ServedModel, allowed: set[str]
) -> tuple[np.ndarray, dict[str, str]]:
    """The ``file`` parts of a multipart body decoded to uint8 [N, C, H, W], and the other
    fields (only names in ``allowed``)."""
    if not _is_image(served):
        raise DataError(
            f"{served.name} is a text model: send JSON, e.g. "
            '{"inputs": ["a text", "another"]}, with content-type application/json'
        )
    limit = serving.limits.max_inputs
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
    channels, size = _image_spec(served)
    images = await asyncio.to_thread(
        decode_images, files, channels=channels, size=size, limits=serving.limits
    )
    return images, fields


def _int_field(fields: dict[str, str], name: str, default: int) -> int:
    if name not in fields:
        return default
    try:
        return int(fields[name])
    except ValueError:
        raise DataError(f"form field {name} must be a whole number, not {fields[name]!r}") from None


def _check_top_k(top_k: int, served: ServedModel) -> None:
    labels = list(getattr(served, "label_names", None) or [])
    if top_k < 1 or (labels and top_k > len(labels)):
        raise DataError(f"top_k must be between 1 and {len(labels) or 'the number of labels'}")


def _new_request_id() -> str:
    return uuid.uuid4().hex


def _model_info(served: ServedModel) -> s.ModelInfo:
    if _is_image(served):
        channels, size = _image_spec(served)
        input_spec = s.InputSpec(kind="image", channels=channels, size=size)
    else:
        input_spec = s.InputSpec(kind="text", max_length=_input(served).get("max_length"))
    return s.ModelInfo(
        name=served.name,
        modality=str(served.modality),
        version=str(served.production),
        backend=str(served.backend),
        labels=[str(x) for x in served.label_names],
        input=input_spec,
        arms={str(k): float(v) for k, v in dict(served.arms).items()},
        shadows=[str(x) for x in served.shadows],
    )


# ---- routes --------------------------------------------------------------------------------
_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            _JSON: {"schema": s.PredictRequest.model_json_schema()},
            _MULTIPART: {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Image files (PNG, JPEG), one part each.",
                        },
                        "top_k": {"type": "integer", "minimum": 1},
                        "key": {"type": "string", "maxLength": 256},
                    },
                }
            },
        },
    }
}
_EXPLAIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            _JSON: {"schema": s.ExplainRequest.model_json_schema()},
            _MULTIPART: {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "method": {"type": "string", "maxLength": 64},
                    },
                }
            },
        },
    }
}


def _add_routes(app: FastAPI) -> None:
    @app.post(
        "/v1/models/{name}/predict",
        name="predict",
        response_model=s.PredictResponse,
        responses=_errors(400, 404, 413, 415, 422, 503),
        openapi_extra=_PREDICT_BODY,
        summary="Labels and probabilities for texts (JSON) or images (multipart uploads)",
    )
    async def predict(
        name: str,
        request: Request,
        x_neuroplast_key: str | None = Header(None, max_length=256),
    ) -> s.PredictResponse:
        serving = _serving(request)
        served = serving.served(request, name)
        media = _media_type(request)
        key = x_neuroplast_key
        inputs: list[str] | np.ndarray
        if media == _JSON:
            body: s.PredictRequest = await _json_body(request, s.PredictRequest)
            if _is_image(served):
                raise DataError(
                    f"{name} is an image model: upload images as multipart/form-data `file` "
                    "parts (curl -F file=@image.png)"
                )
            inputs = [body.inputs] if isinstance(body.inputs, str) else list(body.inputs)
            check_texts(inputs, serving.limits)
            top_k, key = body.top_k, body.key or key
        elif media == _MULTIPART:
            inputs, fields = await _form_files(request, serving, served, {"top_k", "key"})
            top_k, key = _int_field(fields, "top_k", 1), fields.get("key") or key
        else:
            raise _unsupported(request, "application/json (texts) or multipart/form-data (images)")
        _check_top_k(top_k, served)
        request_id = _new_request_id()
        answer = await serving.pool.predict(
            name, inputs, top_k=top_k, key=key, request_id=request_id
        )
        request.state.version = answer.version
        return s.PredictResponse(
            request_id=answer.request_id,
            model=answer.model,
            version=answer.version,
            backend=str(answer.backend),
            predictions=[
                s.PredictionOut(
                    label=p.label,
                    probability=float(p.probability),
                    top_k=[
                        s.LabelProbability(label=lb, probability=float(pr)) for lb, pr in p.top_k
                    ],
                )
                for p in answer.predictions
            ],
            latency_ms=float(answer.latency_ms),
        )

    @app.post(
        "/v1/models/{name}/explain",
        name="explain",
        response_model=s.ExplainResponse,
        responses=_errors(400, 404, 413, 415, 422, 503),
        openapi_extra=_EXPLAIN_BODY,
        summary="Token attributions (text) or a GradCAM overlay (image) for one input",
    )
    async def explain(name: str, request: Request) -> s.ExplainResponse:
        serving = _serving(request)
        served = serving.served(request, name)
        media = _media_type(request)
        item: str | np.ndarray
        if media == _JSON:
            body: s.ExplainRequest = await _json_body(request, s.ExplainRequest)
            if _is_image(served):
                raise DataError(f"{name} is an image model: upload one image as a `file` part")
            check_texts([body.input], serving.limits)
            item, method = body.input, body.method
        elif media == _MULTIPART:
            images, fields = await _form_files(request, serving, served, {"method"})
            if len(images) != 1:
                raise DataError(f"explain takes one image, not {len(images)}")
            item, method = images[0], fields.get("method")
        else:
            raise _unsupported(request, "application/json (a text) or multipart/form-data")
        request_id = _new_request_id()
        out = await serving.pool.explain(name, item, method=method, request_id=request_id)
        version = str(out.get("version", ""))
        request.state.version = version
        tokens = out.get("tokens")
        attributions = out.get("attributions")
        return s.ExplainResponse(
            request_id=request_id,
            model=name,
            version=version,
            label=str(out["label"]),
            probability=float(out["probability"]),
            method=str(out["method"]),
            tokens=None if tokens is None else [str(t) for t in tokens],
            attributions=None if attributions is None else [float(a) for a in attributions],
            overlay_png=out.get("overlay_png"),
        )

    @app.post(
        "/v1/models/{name}/feedback",
        name="feedback",
        response_model=s.FeedbackResponse,
        responses=_errors(400, 404, 413, 422, 503),
        summary="The true label of an answered request (joins the prediction log)",
    )
    async def feedback(name: str, body: s.FeedbackRequest, request: Request) -> s.FeedbackResponse:
        serving = _serving(request)
        serving.served(request, name)
        await serving.pool.flush_log()
        try:
            joined = await asyncio.to_thread(
                serving.registry.add_feedback,
                body.request_id,
                body.label,
                item=body.item,
                model=name,
            )
        except ModelNotFoundError as e:
            raise HttpError(404, "unknown_request", " ".join(str(e).split())) from e
        return s.FeedbackResponse(
            request_id=body.request_id,
            item=body.item,
            label=body.label,
            version=f"{name}:{joined['version']}",
            predicted=str(joined["predicted"]),
            correct=bool(joined["correct"]),
        )

    @app.get("/v1/models", name="models", response_model=s.ModelList)
    async def list_models(request: Request) -> s.ModelList:
        return s.ModelList(models=[_model_info(m) for m in _serving(request).pool.models()])

    @app.get(
        "/v1/models/{name}",
        name="model",
        response_model=s.ModelInfo,
        responses=_errors(404),
    )
    async def get_model(name: str, request: Request) -> s.ModelInfo:
        return _model_info(_serving(request).served(request, name))

    @app.get("/health", name="health", response_model=s.HealthResponse)
    async def health(request: Request) -> s.HealthResponse:
        from neuroplast import __version__

        return s.HealthResponse(
            neuroplast=__version__,
            ready=bool(_serving(request).pool.ready),
            torch_loaded="torch" in sys.modules,
        )

    @app.get("/ready", name="ready", response_model=s.ReadyResponse, responses=_errors(503))
    async def ready(request: Request) -> s.ReadyResponse:
        serving = _serving(request)
        if serving.load_error is not None:
            raise HttpError(503, "load_failed", f"the models failed to load: {serving.load_error}")
        serving.require_ready()
        return s.ReadyResponse(models=[m.name for m in serving.pool.models()])

    @app.get(
        "/metrics",
        name="metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
        summary="Prometheus metrics (text exposition format)",
    )
    async def metrics(request: Request) -> Response:
        return Response(_serving(request).metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", name="page", include_in_schema=False)
    async def page() -> Response:
        if not PAGE.is_file():
            raise HttpError(404, "no_page", "this installation has no page; the API is at /docs")
        return FileResponse(PAGE, media_type="text/html")

    # ---- admin ---------------------------------------------------------------------------
    admin = [Depends(require_admin)]

    @app.post(
        "/v1/admin/reload",
        name="reload",
        response_model=s.ReloadResponse,
        dependencies=admin,
        responses=_errors(401, 403, 503),
        summary="Re-read the registry now (the server also polls it every second)",
    )
    async def reload(request: Request) -> s.ReloadResponse:
        serving = _serving(request)
        serving.require_ready()
        changed = await serving.pool.refresh()
        return s.ReloadResponse(
            changed=bool(changed), models=[_model_info(m) for m in serving.pool.models()]
        )

    @app.post(
        "/v1/models/{name}/ab",
        name="ab_start",
        response_model=s.RoutingOut,
        dependencies=admin,
        responses=_errors(400, 401, 403, 404, 409, 413, 422, 503),
        summary="Start a weighted A/B split between versions of a served model",
    )
    async def ab_start(name: str, body: s.ABStartRequest, request: Request) -> s.RoutingOut:
        serving = _serving(request)
        serving.served(request, name)
        split: dict[int, float] = {}
        for version, weight in body.split.items():
            number = version.rsplit(":", 1)[-1]
            if not number.isdigit():
                raise DataError(f"split keys are version numbers (or name:N), not {version!r}")
            split[int(number)] = weight
        routing = await _routing_change(
            serving.registry.start_ab, name, split, sticky_key=body.sticky_key, reason=body.reason
        )
        await _refresh_if_ready(serving)
        return _routing_out(routing)

    @app.delete(
        "/v1/models/{name}/ab",
        name="ab_stop",
        response_model=s.RoutingOut,
        dependencies=admin,
        responses=_errors(401, 403, 404, 409, 422, 503),
        summary="Stop the A/B split (optionally promoting one version)",
    )
    async def ab_stop(
        name: str, request: Request, promote: int | None = None, reason: str = ""
    ) -> s.RoutingOut:
        serving = _serving(request)
        serving.served(request, name)
        routing = await _routing_change(
            serving.registry.stop_ab, name, promote=promote, reason=reason
        )
        await _refresh_if_ready(serving)
        return _routing_out(routing)


async def _routing_change(change: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A registry routing change off the event loop; a change the registry's state refuses
    (no A/B test to stop, an arm that is not a version) is a 409 that says why."""
    try:
        return await asyncio.to_thread(change, *args, **kwargs)
    except ArtifactError:
        raise
    except RegistryError as e:
        raise HttpError(409, "conflict", " ".join(str(e).split())) from e


async def _refresh_if_ready(serving: _Serving) -> None:
    if serving.pool.ready:
        await serving.pool.refresh()


def _routing_out(routing: Any) -> s.RoutingOut:
    return s.RoutingOut(
        model=routing.model,
        split={str(k): float(v) for k, v in dict(routing.split).items()},
        sticky_key=routing.sticky_key,
        shadows=[int(v) for v in routing.shadows],
        revision=int(routing.revision),
    )
