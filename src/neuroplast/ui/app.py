"""The dashboard as an ASGI app: :func:`dashboard_app` (what ``neuroplast serve`` mounts at
``/ui``) and :func:`standalone_app` (``neuroplast ui``: the dashboard alone, no model
loaded). Every answer is an HTML page rendered by Jinja2 with autoescaping on; an unknown
model, version, run or path is a 404 page of the dashboard, any other failure a 500 page
without a traceback (the server's log has it)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException

from neuroplast.errors import ModelNotFoundError

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["MOUNT", "dashboard_app", "render", "standalone_app"]

log = logging.getLogger(__name__)

#: Where ``neuroplast serve`` and ``neuroplast ui`` put the dashboard.
MOUNT = "/ui"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("neuroplast.ui", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda moment: (
        "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
    )
    env.filters["number"] = _number
    env.filters["details"] = _details
    return env


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _details(details: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An event's numbers as (key, short text) pairs for the audit tables."""
    out = []
    for key, value in (details or {}).items():
        if isinstance(value, float):
            text = f"{value:.4g}"
        elif isinstance(value, str | int | bool) or value is None:
            text = str(value)
        else:
            text = json.dumps(value, separators=(",", ":"), default=str)
        out.append((str(key), text if len(text) <= 120 else text[:117] + "..."))
    return out


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env: Environment = request.app.state.templates
    base = request.scope.get("root_path", "")
    html = env.get_template(template).render(request=request, base=base, **context)
    return HTMLResponse(html, status_code=status)


def _error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", status, title=title, message=message)


def dashboard_app(registry: Registry) -> FastAPI:
    """The dashboard of ``registry``, to mount (``app.mount("/ui", dashboard_app(r))``):
    it has its own error pages, so the JSON error shape of the API never reaches it."""
    from neuroplast.ui._pages import add_pages

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.registry = registry
    app.state.templates = _environment()

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error_page(request, 404, "Not found", " ".join(str(exc).split()))

    async def http_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):  # registered for HTTPException only
            raise exc
        if exc.status_code == 404:
            message = f"the dashboard has no page at {request.url.path}"
            return _error_page(request, 404, "Not found", message)
        return _error_page(request, exc.status_code, "Error", str(exc.detail))

    app.add_exception_handler(ModelNotFoundError, not_found)
    app.add_exception_handler(HTTPException, http_error)

    @app.middleware("http")
    async def unexpected(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        try:
            return await call_next(request)
        except Exception as e:  # a defect: a page that says so, the log has the traceback
            log.error("dashboard page %s failed", request.url.path, exc_info=e)
            return _error_page(
                request,
                500,
                "Server error",
                f"unexpected {type(e).__name__} while drawing this page; the server's log "
                "has the details",
            )

    add_pages(app)
    return app


def standalone_app(registry: Registry) -> FastAPI:
    """``neuroplast ui``: the dashboard at ``/ui``, ``/`` redirecting to it; nothing else."""
    from neuroplast import __version__

    app = FastAPI(
        title="neuroplast dashboard",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{MOUNT}/")

    app.mount(MOUNT, dashboard_app(registry))
    return app
