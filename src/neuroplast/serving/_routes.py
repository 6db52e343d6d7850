"""The routes of the HTTP API (``create_app`` in :mod:`neuroplast.serving.app` adds them):
predict, explain, feedback, the model listing, health, readiness, metrics, the page, and the
admin routes behind ``Authorization: Bearer $NEUROPLAST_API_KEY``."""

from __future__ import annotations

import asyncio
import hmac
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import FileResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from neuroplast.errors import ArtifactError, DataError, ModelNotFoundError, RegistryError
from neuroplast.serving import schemas as s
from neuroplast.serving._bodies import (
    JSON,
    MULTIPART,
    check_top_k,
    form_images,
    image_spec,
    input_spec,
    int_field,
    is_image,
    json_body,
    media_type,
    new_request_id,
    unsupported,
)
from neuroplast.serving._http_errors import HttpError, error_responses
from neuroplast.serving.errors import ModelNotServed, NotReady
from neuroplast.serving.limits import Limits, check_texts
from neuroplast.serving.metrics import CONTENT_TYPE, ServingMetrics

if TYPE_CHECKING:
    from neuroplast.registry import Registry
    from neuroplast.serving.pool import ModelPool, ServedModel

__all__ = ["API_KEY_ENV", "PAGE", "Serving", "add_routes", "require_admin"]

#: The environment variable that holds the admin key (unset: admin endpoints answer 403).
API_KEY_ENV = "NEUROPLAST_API_KEY"
PAGE = Path(__file__).with_name("static") / "index.html"


class Serving:
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


def _serving(request: Request) -> Serving:
    serving: Serving = request.app.state.serving
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


def _model_info(served: ServedModel) -> s.ModelInfo:
    if is_image(served):
        channels, size = image_spec(served)
        spec = s.InputSpec(kind="image", channels=channels, size=size)
    else:
        spec = s.InputSpec(kind="text", max_length=input_spec(served).get("max_length"))
    return s.ModelInfo(
        name=served.name,
        modality=str(served.modality),
        version=str(served.production),
        backend=str(served.backend),
        labels=[str(x) for x in served.label_names],
        input=spec,
        arms={str(k): float(v) for k, v in dict(served.arms).items()},
        shadows=[str(x) for x in served.shadows],
    )


_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": s.PredictRequest.model_json_schema()},
            MULTIPART: {
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
            JSON: {"schema": s.ExplainRequest.model_json_schema()},
            MULTIPART: {
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


def add_routes(app: FastAPI) -> None:
    """Every route of the server, by group."""
    for add in (_add_predict, _add_explain, _add_feedback, _add_info, _add_reload, _add_ab):
        add(app)


def _add_predict(app: FastAPI) -> None:
    @app.post(
        "/v1/models/{name}/predict",
        name="predict",
        response_model=s.PredictResponse,
        responses=error_responses(400, 404, 413, 415, 422, 503),
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
        media = media_type(request)
        key = x_neuroplast_key
        inputs: list[str] | np.ndarray
        if media == JSON:
            body: s.PredictRequest = await json_body(request, s.PredictRequest)
            if is_image(served):
                raise DataError(
                    f"{name} is an image model: upload images as multipart/form-data `file` "
                    "parts (curl -F file=@image.png)"
                )
            inputs = [body.inputs] if isinstance(body.inputs, str) else list(body.inputs)
            check_texts(inputs, serving.limits)
            top_k, key = body.top_k, body.key or key
        elif media == MULTIPART:
            inputs, fields = await form_images(request, serving.limits, served, {"top_k", "key"})
            top_k, key = int_field(fields, "top_k", 1), fields.get("key") or key
        else:
            raise unsupported(request, "application/json (texts) or multipart/form-data (images)")
        check_top_k(top_k, served)
        request_id = new_request_id()
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


def _add_explain(app: FastAPI) -> None:
    @app.post(
        "/v1/models/{name}/explain",
        name="explain",
        response_model=s.ExplainResponse,
        responses=error_responses(400, 404, 413, 415, 422, 503),
        openapi_extra=_EXPLAIN_BODY,
        summary="Token attributions (text) or a GradCAM overlay (image) for one input",
    )
    async def explain(name: str, request: Request) -> s.ExplainResponse:
        serving = _serving(request)
        served = serving.served(request, name)
        media = media_type(request)
        item: str | np.ndarray
        if media == JSON:
            body: s.ExplainRequest = await json_body(request, s.ExplainRequest)
            if is_image(served):
                raise DataError(f"{name} is an image model: upload one image as a `file` part")
            check_texts([body.input], serving.limits)
            item, method = body.input, body.method
        elif media == MULTIPART:
            images, fields = await form_images(request, serving.limits, served, {"method"})
            if len(images) != 1:
                raise DataError(f"explain takes one image, not {len(images)}")
            item, method = images[0], fields.get("method")
        else:
            raise unsupported(request, "application/json (a text) or multipart/form-data")
        request_id = new_request_id()
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


def _add_feedback(app: FastAPI) -> None:
    @app.post(
        "/v1/models/{name}/feedback",
        name="feedback",
        response_model=s.FeedbackResponse,
        responses=error_responses(400, 404, 413, 422, 503),
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
                new_class=body.new_class,
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
            new_class=bool(joined["new_class"]),
        )


def _add_info(app: FastAPI) -> None:
    @app.get("/v1/models", name="models", response_model=s.ModelList)
    async def list_models(request: Request) -> s.ModelList:
        return s.ModelList(models=[_model_info(m) for m in _serving(request).pool.models()])

    @app.get(
        "/v1/models/{name}",
        name="model",
        response_model=s.ModelInfo,
        responses=error_responses(404),
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

    @app.get("/ready", name="ready", response_model=s.ReadyResponse, responses=error_responses(503))
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


def _add_reload(app: FastAPI) -> None:
    admin = [Depends(require_admin)]

    @app.post(
        "/v1/admin/reload",
        name="reload",
        response_model=s.ReloadResponse,
        dependencies=admin,
        responses=error_responses(401, 403, 503),
        summary="Re-read the registry now (the server also polls it every second)",
    )
    async def reload(request: Request) -> s.ReloadResponse:
        serving = _serving(request)
        serving.require_ready()
        changed = await serving.pool.refresh()
        return s.ReloadResponse(
            changed=bool(changed), models=[_model_info(m) for m in serving.pool.models()]
        )


def _add_ab(app: FastAPI) -> None:
    admin = [Depends(require_admin)]

    @app.post(
        "/v1/models/{name}/ab",
        name="ab_start",
        response_model=s.RoutingOut,
        dependencies=admin,
        responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503),
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
        responses=error_responses(401, 403, 404, 409, 422, 503),
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


async def _refresh_if_ready(serving: Serving) -> None:
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
