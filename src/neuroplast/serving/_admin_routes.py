"""The admin routes of the HTTP API, behind ``Authorization: Bearer $NEUROPLAST_API_KEY``:
re-read the registry now, start and stop an A/B split."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from neuroplast.errors import ArtifactError, DataError, RegistryError
from neuroplast.serving import schemas as s
from neuroplast.serving._http_errors import HttpError, error_responses
from neuroplast.serving._routes import API_KEY_ENV, Serving, model_info, serving_of

__all__ = ["add_admin_routes", "require_admin"]


def add_admin_routes(app: FastAPI) -> None:
    """The admin routes (403 until the server has a key)."""
    _add_reload(app)
    _add_ab(app)


_bearer = HTTPBearer(auto_error=False, description=f"The server's {API_KEY_ENV}.")


def require_admin(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """Admin routes need ``Authorization: Bearer $NEUROPLAST_API_KEY`` (403 when the server
    has no key: admin over HTTP is off until one is set)."""
    key = serving_of(request).api_key
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
        serving = serving_of(request)
        serving.require_ready()
        changed = await serving.pool.refresh()
        return s.ReloadResponse(
            changed=bool(changed), models=[model_info(m) for m in serving.pool.models()]
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
        serving = serving_of(request)
        serving.served(request, name)
        split: dict[int, float] = {}
        for version, weight in body.split.items():
            number = version.rsplit(":", 1)[-1]
            if not number.isdigit():
                raise DataError(f"split keys are version numbers (or name:N), not {version!r}")
            split[int(number)] = weight
        await asyncio.to_thread(_same_kind, serving, name, list(split))
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
        serving = serving_of(request)
        serving.served(request, name)
        routing = await _routing_change(
            serving.registry.stop_ab, name, promote=promote, reason=reason
        )
        await _refresh_if_ready(serving)
        return _routing_out(routing)


def _same_kind(serving: Serving, name: str, numbers: list[int]) -> None:
    """A 409 when the versions of a split are of different kinds (a forecaster and a
    classifier answer different questions: no split can compare them)."""
    from neuroplast.errors import ModelNotFoundError
    from neuroplast.serving._task_kinds import kind_title, version_kind

    kinds: dict[str, str] = {}
    for ref in (name, *(f"{name}:{n}" for n in numbers)):
        try:
            version = serving.registry.ensure_local(serving.registry.resolve(ref))
        except ModelNotFoundError:
            continue  # the registry's own check names the missing version
        kinds[version.ref] = version_kind(version)
    if len(set(kinds.values())) > 1:
        listed = ", ".join(f"{ref} is {kind_title(kind)}" for ref, kind in kinds.items())
        raise HttpError(
            409,
            "mixed_tasks",
            f"an A/B split compares versions that answer the same way; {listed}: split "
            "between versions of one kind only",
            detail={"kinds": kinds},
        )


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
