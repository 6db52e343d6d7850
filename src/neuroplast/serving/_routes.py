"""The public routes of the HTTP API (``create_app`` in :mod:`neuroplast.serving.app` adds
them): predict, explain, feedback, the model listing, health, readiness, metrics and the page.
The admin routes are in :mod:`neuroplast.serving._admin_routes`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import FastAPI, Header, Request
from fastapi.responses import FileResponse, Response

from neuroplast.errors import DataError, ModelNotFoundError
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
    openapi_body,
    unsupported,
)
from neuroplast.serving._http_errors import HttpError, error_responses
from neuroplast.serving._task_kinds import (
    CLASSIFIER,
    NEUROMORPHIC,
    ROUTES,
    kind_title,
    wrong_route,
)
from neuroplast.serving.errors import ModelNotServed, NotReady, WrongRoute
from neuroplast.serving.limits import Limits, check_texts
from neuroplast.serving.metrics import CONTENT_TYPE, ServingMetrics

if TYPE_CHECKING:
    from neuroplast.registry import Registry
    from neuroplast.serving.pool import ModelPool, ServedModel

__all__ = ["API_KEY_ENV", "PAGE", "Serving", "add_routes", "model_info", "serving_of"]

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
        self.streams = 0  # generations streaming now (the task routes cap them)

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


def serving_of(request: Request) -> Serving:
    serving: Serving = request.app.state.serving
    return serving


def model_info(served: ServedModel) -> s.ModelInfo:
    kind = str(served.modality)
    if is_image(served):
        channels, size = image_spec(served)
        spec = s.InputSpec(kind="image", channels=channels, size=size)
    elif kind in ("tabular", "series"):
        spec = s.InputSpec(kind=kind)
    else:
        spec = s.InputSpec(kind="text", max_length=input_spec(served).get("max_length"))
    task = str(served.task)
    return s.ModelInfo(
        name=served.name,
        modality=str(served.modality),
        version=str(served.production),
        backend=str(served.backend),
        labels=[str(x) for x in served.label_names],
        input=spec,
        arms={str(k): float(v) for k, v in dict(served.arms).items()},
        shadows=[str(x) for x in served.shadows],
        task=task,
        route=f"/v1/models/{served.name}/{ROUTES.get(task, 'predict')}",
        details=dict(served.details),
    )


_IMAGES = {
    "type": "array",
    "items": {"type": "string", "format": "binary"},
    "description": "Image files (PNG, JPEG), one part each.",
}
_KEY = {"type": "string", "maxLength": 256}
_PREDICT_BODY = openapi_body(
    s.PredictRequest.model_json_schema(),
    _IMAGES,
    {"top_k": {"type": "integer", "minimum": 1}, "key": _KEY},
)
_EXPLAIN_BODY = openapi_body(
    s.ExplainRequest.model_json_schema(),
    {"type": "string", "format": "binary"},
    {"method": {"type": "string", "maxLength": 64}},
)


def add_routes(app: FastAPI) -> None:
    """Every route of the server, by group."""
    from neuroplast.serving._task_routes import add_task_routes

    for add in (_add_predict, _add_explain, _add_feedback, _add_info, add_task_routes):
        add(app)


def _add_predict(app: FastAPI) -> None:
    @app.post(
        "/v1/models/{name}/predict",
        name="predict",
        response_model=s.PredictResponse,
        response_model_exclude_none=True,
        responses=error_responses(400, 404, 413, 415, 422, 503),
        openapi_extra=_PREDICT_BODY,
        summary="Labels and probabilities for texts (JSON) or images (multipart uploads); "
        "neuromorphic learners add abstention and evidence",
    )
    async def predict(
        name: str,
        request: Request,
        x_neuroplast_key: str | None = Header(None, max_length=256),
    ) -> s.PredictResponse:
        serving = serving_of(request)
        served = serving.served(request, name)
        if served.task not in (CLASSIFIER, NEUROMORPHIC):
            raise wrong_route(name, served.task, "predict")
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
                    **_learner_fields(answer.answers, i),
                )
                for i, p in enumerate(answer.predictions)
            ],
            latency_ms=float(answer.latency_ms),
        )


def _learner_fields(answers: list[dict[str, Any]] | None, i: int) -> dict[str, Any]:
    """A neuromorphic learner's abstention and evidence for input ``i`` (none for others)."""
    if answers is None:
        return {}
    answer = answers[i]
    return {
        "abstained": bool(answer["abstained"]),
        "evidence": [s.EvidenceOut.model_validate(e) for e in answer.get("evidence") or []],
    }


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
        serving = serving_of(request)
        served = serving.served(request, name)
        if served.task != CLASSIFIER:
            raise wrong_route(name, served.task, "explain")
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
        serving = serving_of(request)
        served = serving.served(request, name)
        if served.task not in (CLASSIFIER, NEUROMORPHIC):
            raise WrongRoute(
                f"{name} is {kind_title(served.task)}: its answers are not in the prediction "
                "log (it holds labelled answers), so there is nothing to join feedback to",
                detail={"task": served.task},
            )
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
        return s.ModelList(models=[model_info(m) for m in serving_of(request).pool.models()])

    @app.get(
        "/v1/models/{name}",
        name="model",
        response_model=s.ModelInfo,
        responses=error_responses(404),
    )
    async def get_model(name: str, request: Request) -> s.ModelInfo:
        return model_info(serving_of(request).served(request, name))

    @app.get("/health", name="health", response_model=s.HealthResponse)
    async def health(request: Request) -> s.HealthResponse:
        from neuroplast import __version__

        return s.HealthResponse(
            neuroplast=__version__,
            ready=bool(serving_of(request).pool.ready),
            torch_loaded="torch" in sys.modules,
        )

    @app.get("/ready", name="ready", response_model=s.ReadyResponse, responses=error_responses(503))
    async def ready(request: Request) -> s.ReadyResponse:
        serving = serving_of(request)
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
        return Response(serving_of(request).metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", name="page", include_in_schema=False)
    async def page() -> Response:
        if not PAGE.is_file():
            raise HttpError(404, "no_page", "this installation has no page; the API is at /docs")
        return FileResponse(PAGE, media_type="text/html")

    # ---- admin ---------------------------------------------------------------------------
