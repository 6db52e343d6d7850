"""Prometheus metrics of one server: requests, errors and latency per model, version and
status (from the HTTP layer); batch sizes, batch times, queue depth and swaps (from the
model pool, through the observer methods ``on_batch`` / ``on_queue`` / ``on_swap``).

Each app owns its :class:`ServingMetrics` and its own ``CollectorRegistry``, so two apps in
one process (tests, an app mounted twice) never share or clash on counters.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neuroplast.serving._http_errors import CODES

__all__ = ["CONTENT_TYPE", "RequestMetrics", "ServingMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    """The counters, histograms and gauges of one app, and the pool's observer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("model", "version", "endpoint")
        self.requests = Counter(
            "neuroplast_requests",
            "HTTP requests answered, by model, version, endpoint and status code.",
            (*labels, "status"),
            registry=self.registry,
        )
        self.errors = Counter(
            "neuroplast_errors",
            "Requests answered with an error, by model, version, endpoint and error code.",
            (*labels, "code"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "neuroplast_request_seconds",
            "Time from request to answer, by model, version and endpoint.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "neuroplast_batch_size",
            "Inputs per batch the predictor ran, by model and version.",
            ("model", "version"),
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "neuroplast_batch_seconds",
            "Time the predictor took per batch, by model and version.",
            ("model", "version"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "neuroplast_queue_depth",
            "Inputs waiting for a batch, by model and version.",
            ("model", "version"),
            registry=self.registry,
        )
        self.swaps = Counter(
            "neuroplast_swaps",
            "Hot swaps of a model's serving version (promote, rollback, A/B change).",
            ("model",),
            registry=self.registry,
        )

    # ---- the HTTP layer ------------------------------------------------------------------
    def observe_request(
        self,
        *,
        model: str,
        version: str,
        endpoint: str,
        status: int,
        seconds: float,
        error_code: str | None = None,
    ) -> None:
        self.requests.labels(model, version, endpoint, str(status)).inc()
        self.latency.labels(model, version, endpoint).observe(seconds)
        if error_code is not None:
            self.errors.labels(model, version, endpoint, error_code).inc()

    # ---- the pool's observer protocol ----------------------------------------------------
    def on_batch(self, model: str, version_ref: str, size: int, seconds: float) -> None:
        self.batch_size.labels(model, version_ref).observe(size)
        self.batch_seconds.labels(model, version_ref).observe(seconds)

    def on_queue(self, model: str, version_ref: str, depth: int) -> None:
        self.queue_depth.labels(model, version_ref).set(depth)

    def on_swap(self, model: str, old_ref: str | None, new_ref: str) -> None:
        self.swaps.labels(model).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class RequestMetrics:
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
                code = CODES.get(status, "http_error")
            self.metrics.observe_request(
                model=state.get("model", ""),
                version=state.get("version", ""),
                endpoint=endpoint,
                status=status,
                seconds=time.perf_counter() - start,
                error_code=code,
            )
