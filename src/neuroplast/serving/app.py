"""The HTTP API of ``neuroplast serve``: a FastAPI app over a :class:`ModelPool`.

``create_app(registry, models, settings)`` builds it; FastAPI's ``lifespan`` starts loading
the models in the background (``/ready`` answers 503 until every one is loaded, ``/health``
200 at once) and, at shutdown, drains every queue and flushes the prediction log. Every error
the app answers, FastAPI's own included, is ``{"error": {"code", "message", "detail"}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

from fastapi import FastAPI

from neuroplast.errors import NeuroplastError
from neuroplast.serving._admin_routes import add_admin_routes
from neuroplast.serving._http_errors import HttpError, install_error_handlers, openapi_document
from neuroplast.serving._routes import API_KEY_ENV, Serving, add_routes
from neuroplast.serving.limits import BodyLimitMiddleware, Limits
from neuroplast.serving.metrics import RequestMetrics, ServingMetrics

if TYPE_CHECKING:
    from neuroplast.registry import Registry
    from neuroplast.serving.loop_schedule import LoopSchedule
    from neuroplast.serving.pool import ModelPool, ServeSettings

__all__ = ["API_KEY_ENV", "HttpError", "create_app"]

log = logging.getLogger(__name__)


def create_app(
    registry: Registry,
    models: Sequence[str] | None = None,
    settings: ServeSettings | None = None,
    *,
    limits: Limits | None = None,
    api_key: str | None = None,
    pool: ModelPool | None = None,
    loop_schedule: LoopSchedule | None = None,
) -> FastAPI:
    """The ASGI app serving ``models`` (``None``: every model with a production version)
    from ``registry``. ``api_key`` defaults to ``$NEUROPLAST_API_KEY``; ``pool`` replaces the
    :class:`ModelPool` the app would build (it is started and stopped by the app);
    ``loop_schedule`` runs the closed loop while the app serves (started and stopped too)."""
    from neuroplast import __version__
    from neuroplast.serving.pool import ModelPool, ServeSettings

    metrics = ServingMetrics()
    limits = limits or Limits()
    if pool is None:
        pool = ModelPool(registry, models, settings or ServeSettings(), observer=metrics)
    serving = Serving(
        registry,
        pool,
        limits,
        metrics,
        api_key if api_key is not None else os.environ.get(API_KEY_ENV),
    )

    app = FastAPI(
        title="neuroplast",
        version=__version__,
        description="Predictions, explanations and feedback for the models of a neuroplast "
        'registry. Every error is `{"error": {"code", "message", "detail"}}`.',
        lifespan=_lifespan(serving, loop_schedule),
    )
    app.state.serving = serving
    app.state.loop_schedule = loop_schedule
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    add_routes(app)
    add_admin_routes(app)
    from neuroplast.ui import MOUNT, dashboard_app

    app.mount(MOUNT, dashboard_app(registry))  # HTML pages with their own error pages
    app.add_middleware(BodyLimitMiddleware, limit=limits.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app


def _lifespan(
    serving: Serving, loop_schedule: LoopSchedule | None
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Load the served models in the background (``/ready`` says when they are), run the
    loop's schedule while serving, and stop both, in that order, on shutdown."""

    async def load() -> None:
        try:
            await serving.pool.start()
        except NeuroplastError as e:  # a user-facing reason: /ready reports it
            serving.load_error = " ".join(str(e).split())
            log.info("loading the served models failed: %s", serving.load_error)
        except Exception as e:  # a defect: /ready says so, the log has the traceback
            serving.load_error = f"unexpected {type(e).__name__}: {e}"
            log.error("loading the served models failed", exc_info=e)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        serving.loading = asyncio.create_task(load())
        if loop_schedule is not None:
            await loop_schedule.start()
        try:
            yield
        finally:
            if loop_schedule is not None:
                await loop_schedule.stop()  # a running loop step is stopped first
            if not serving.loading.done():
                serving.loading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await serving.loading
            await serving.pool.stop()

    return lifespan
