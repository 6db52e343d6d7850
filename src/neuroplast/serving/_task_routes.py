"""The routes of the task models (``create_app`` adds them with the others): anomaly scores,
forecasts and generated text, streamed as Server-Sent Events on request. Each checks that
the model is of its kind (a 400 ``wrong_route`` names the right route otherwise), reads a
strict body, checks it against the version (columns, window, lookback, horizon, prompt)
before any model work, and runs the model in its version's batcher thread."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from time import perf_counter
from typing import TYPE_CHECKING, Any, cast

from fastapi import FastAPI, Header, Request
from fastapi.responses import Response, StreamingResponse

from neuroplast.errors import DataError, NeuroplastError
from neuroplast.serving import task_schemas as t
from neuroplast.serving._bodies import (
    JSON,
    MULTIPART,
    form_images,
    json_body,
    media_type,
    new_request_id,
    openapi_body,
    unsupported,
)
from neuroplast.serving._http_errors import CODES, error_responses
from neuroplast.serving._routes import Serving, serving_of
from neuroplast.serving._task_kinds import wrong_route
from neuroplast.serving.errors import QueueFull, ServingError
from neuroplast.serving.limits import check_texts

if TYPE_CHECKING:
    from neuroplast.serving._loading import ServedVersion
    from neuroplast.serving._task_models import AnomalyModel, ForecastModel
    from neuroplast.serving._text_models import GenerationJob, GenerationModel

__all__ = ["MAX_STREAMS", "add_task_routes"]

#: Generations streaming at once, at most, per server process (more: 503, retry).
MAX_STREAMS = 8

_SCORE_BODY = openapi_body(
    t.ScoreRequest.model_json_schema(),
    {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "description": "Image models: image files (PNG, JPEG), one part each.",
    },
    {"key": {"type": "string", "maxLength": 256}},
)
_SSE = "text/event-stream"


def add_task_routes(app: FastAPI) -> None:
    for add in (_add_score, _add_forecast, _add_generate):
        add(app)


def _task(
    serving: Serving, request: Request, name: str, kind: str, route: str, request_id: str, key: Any
) -> ServedVersion:
    served = serving.served(request, name)
    if served.task != kind:
        raise wrong_route(name, served.task, route)
    version, _ = serving.pool.task_version(name, kind, route, request_id=request_id, key=key)
    request.state.version = version.ref
    return version


def _add_score(app: FastAPI) -> None:
    @app.post(
        "/v1/models/{name}/score",
        name="score",
        response_model=t.ScoreResponse,
        response_model_exclude_none=True,
        responses=error_responses(400, 404, 413, 415, 422, 503),
        openapi_extra=_SCORE_BODY,
        summary="Anomaly models: a score and is_anomaly (against the stored threshold) per "
        "row, window or image",
    )
    async def score(
        name: str, request: Request, x_neuroplast_key: str | None = Header(None, max_length=256)
    ) -> t.ScoreResponse:
        serving, request_id = serving_of(request), new_request_id()
        started = perf_counter()
        media = media_type(request)
        spans: list[tuple[int, int]] | None = None
        if media == JSON:
            body: t.ScoreRequest = await json_body(request, t.ScoreRequest)
            key = body.key or x_neuroplast_key
            version = _task(serving, request, name, "anomaly_detection", "score", request_id, key)
            model = cast("AnomalyModel", version.predictor)
            if (body.inputs is None) == (body.series is None):
                raise DataError(
                    'send one of "inputs" (rows or windows) and "series" (a whole series)'
                )
            if body.inputs is not None:
                _count(len(body.inputs), serving)
                items = model.rows(body.inputs)
            else:
                items, spans = model.series(body.series or [])
                _count(len(items), serving)
        elif media == MULTIPART:
            version = _task(
                serving, request, name, "anomaly_detection", "score", request_id, x_neuroplast_key
            )
            model = cast("AnomalyModel", version.predictor)
            if model.spec.modality != "image":
                raise DataError(
                    f"{name} scores {model.spec.modality} inputs: send JSON, e.g. "
                    '{"inputs": [[1.0, 2.0, ...]]}, with content-type application/json'
                )
            served = serving.served(request, name)
            images, _ = await form_images(request, serving.limits, served, {"key"})
            items = model.images(images)
        else:
            raise unsupported(request, "application/json (rows) or multipart/form-data (images)")
        scores = await serving.pool.run_task(version, items)
        cut = model.threshold
        results = [
            t.AnomalyOut(
                score=value,
                is_anomaly=value > cut,
                **({} if spans is None else {"start": spans[i][0], "end": spans[i][1]}),
            )
            for i, value in enumerate(scores)
        ]
        return t.ScoreResponse(
            request_id=request_id,
            model=name,
            version=version.ref,
            threshold=cut,
            results=results,
            latency_ms=(perf_counter() - started) * 1000.0,
        )


def _count(n: int, serving: Serving) -> None:
    if n > serving.limits.max_inputs:
        raise DataError(
            f"{n:,} inputs in one request, more than the limit of "
            f"{serving.limits.max_inputs:,}; split them over several requests"
        )


def _add_forecast(app: FastAPI) -> None:
    @app.post(
        "/v1/models/{name}/forecast",
        name="forecast",
        response_model=t.ForecastResponse,
        responses=error_responses(400, 404, 413, 415, 422, 503),
        summary="Forecasting models: the next values with prediction intervals, after the "
        "stored end of the training series or after a history sent",
    )
    async def forecast(
        name: str,
        body: t.ForecastRequest,
        request: Request,
        x_neuroplast_key: str | None = Header(None, max_length=256),
    ) -> t.ForecastResponse:
        serving, request_id = serving_of(request), new_request_id()
        started = perf_counter()
        key = body.key or x_neuroplast_key
        version = _task(serving, request, name, "forecasting", "forecast", request_id, key)
        model = cast("ForecastModel", version.predictor)
        steps = model.steps(body.horizon)
        if body.history is None and body.last_date is not None:
            raise DataError("last_date dates the history you send; it goes with history")
        history = model.history(body.history)
        last = model.state.last_date if body.history is None else body.last_date
        dates = model.dates(last, steps)
        (point,) = await serving.pool.run_task(version, [history])
        point = point[:steps]
        low, high = model.bounds(point)
        level = model.state.interval
        return t.ForecastResponse(
            request_id=request_id,
            model=name,
            version=version.ref,
            source="stored" if body.history is None else "request",
            interval=t.ForecastInterval(method=str(level["method"]), level=float(level["level"])),
            forecast=[
                t.ForecastPoint(
                    step=i + 1,
                    date=None if dates is None else dates[i],
                    value=float(point[i]),
                    lower=float(low[i]),
                    upper=float(high[i]),
                )
                for i in range(steps)
            ],
            latency_ms=(perf_counter() - started) * 1000.0,
        )


def _add_generate(app: FastAPI) -> None:
    @app.post(
        "/v1/models/{name}/generate",
        name="generate",
        response_model=t.GenerateResponse,
        responses={
            200: {"content": {_SSE: {"schema": {"type": "string"}}}},
            **error_responses(400, 404, 413, 415, 422, 503),
        },
        summary="Text generation models: the text after a prompt (JSON), or with "
        '"stream": true its pieces as Server-Sent Events',
    )
    async def generate(
        name: str,
        body: t.GenerateRequest,
        request: Request,
        x_neuroplast_key: str | None = Header(None, max_length=256),
    ) -> Any:
        serving, request_id = serving_of(request), new_request_id()
        started = perf_counter()
        key = body.key or x_neuroplast_key
        check_texts([body.prompt], serving.limits)
        version = _task(serving, request, name, "generation", "generate", request_id, key)
        model = cast("GenerationModel", version.predictor)
        options = body.model_dump(include={"max_tokens", "temperature", "top_k", "top_p", "seed"})
        job = model.job(body.prompt, options)
        model.check_prompt(body.prompt)
        head = {"request_id": request_id, "model": name, "version": version.ref}
        if body.stream:
            return _stream(serving, model, job, head, started)
        (text,) = await serving.pool.run_task(version, [job])
        return t.GenerateResponse(
            **head,
            prompt=body.prompt,
            text=text,
            latency_ms=(perf_counter() - started) * 1000.0,
        )


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _stream(
    serving: Serving,
    model: GenerationModel,
    job: GenerationJob,
    head: dict[str, Any],
    started: float,
) -> Response:
    """Server-Sent Events: one ``piece`` event per piece of text, then ``done`` with the
    whole text (or ``error`` with the error body, if generation fails midway)."""
    if serving.streams >= MAX_STREAMS:
        raise QueueFull(
            f"{MAX_STREAMS} generations are streaming on this server; retry in a moment",
            retry_after=1.0,
        )
    serving.streams += 1

    async def events() -> AsyncIterator[bytes]:
        text = ""
        try:
            pieces = await asyncio.to_thread(model.pieces, job)
            while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
                text += piece
                yield _event("piece", {"text": piece})
            latency = (perf_counter() - started) * 1000.0
            yield _event("done", {**head, "text": text, "latency_ms": latency})
        except NeuroplastError as e:
            status = e.status if isinstance(e, ServingError) else 422
            message = " ".join(str(e).split())
            yield _event("error", {"error": {"code": CODES.get(status), "message": message}})
        finally:
            serving.streams -= 1

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type=_SSE, headers=headers)
