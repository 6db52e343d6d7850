"""What a server serves, read from the registry: which models, and for each its routing
table (production version, A/B arms, shadows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from neuroplast.errors import ModelNotFoundError, NeuroplastError
from neuroplast.serving.router import Router

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["model_names", "plan", "plans"]


def model_names(registry: Registry, requested: Sequence[str] | None) -> list[str]:
    """``requested``, or else every model that has a production version."""
    if requested is not None:
        return list(requested)
    names = []
    for summary in registry.list_models():
        try:
            registry.resolve(f"{summary.name}@production")
        except ModelNotFoundError:
            continue
        names.append(summary.name)
    return names


def plan(registry: Registry, name: str) -> Router:
    """The routing table of ``name``: its production version (else its newest, as a bare
    name resolves), the A/B arms and shadows of its registry routing."""
    production = registry.resolve(name)
    routing = registry.routing(name)
    return Router.from_split(
        name,
        production.ref,
        dict(routing.split),
        tuple(routing.shadows),
        revision=int(routing.revision),
        sticky_key=routing.sticky_key,
    )


def plans(
    registry: Registry,
    requested: Sequence[str] | None,
    *,
    errors: dict[str, Exception] | None = None,
) -> dict[str, Router]:
    """The routing table of every served model. With ``errors``, a model whose table cannot
    be read (deleted meanwhile, say) is put there instead of raising."""
    names = model_names(registry, requested)
    if requested is None and not names:
        raise ModelNotFoundError(
            f"no model in {registry.home} has a production version to serve; promote one "
            "(neuroplast models promote NAME:N --stage production) or name the models"
        )
    out = {}
    for name in names:
        try:
            out[name] = plan(registry, name)
        except NeuroplastError as e:
            if errors is None:
                raise
            errors[name] = e
    return out
