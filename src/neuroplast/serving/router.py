"""Which version answers a request: a weighted A/B split, deterministic per key.

A request's key (the value it carries in ``"key"`` or the ``X-Neuroplast-Key`` header; the
A/B test's ``sticky_key`` only records what that value is, e.g. ``user_id``; else the
request id) is hashed with the model and the routing revision to a
number in [0, 1), which falls into one arm of the cumulative weights. So one key always
gets the same version while the routing stays the same, and a new A/B test (a new
revision) reshuffles the keys. Shadow versions are not chosen: they get a copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from neuroplast.errors import ConfigError

__all__ = ["Arm", "Route", "Router", "unit_hash"]

Arm = Literal["production", "ab", "shadow"]


def unit_hash(*parts: object) -> float:
    """A number in [0, 1) from the sha256 of ``parts`` (stable across processes and runs)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass(frozen=True)
class Route:
    """The version that answers (``ref`` as ``name:N``) and why (``arm``: ``production``
    when no A/B test runs, ``ab`` for every version a running test routes to)."""

    ref: str
    arm: Arm


@dataclass(frozen=True)
class Router:
    """The routing table of one model: its production version, the A/B arms (``ref ->
    weight``; empty: production answers everything) and the shadow versions."""

    model: str
    production: str
    arms: Mapping[str, float] = field(default_factory=dict)
    shadows: tuple[str, ...] = ()
    revision: int = 0
    sticky_key: str | None = None
    _bounds: tuple[tuple[float, str], ...] = field(init=False, repr=False, default=())

    def __post_init__(self) -> None:
        weights = dict(self.arms)
        if any(w < 0 for w in weights.values()):
            raise ConfigError(f"A/B weights of {self.model} must be 0 or more: {weights}")
        total = sum(weights.values())
        if weights and total <= 0:
            raise ConfigError(f"A/B weights of {self.model} sum to 0: {weights}")
        # cumulative upper bounds, normalised so that they end at exactly 1
        bounds: list[tuple[float, str]] = []
        running = 0.0
        for ref, weight in sorted(weights.items()):
            if weight > 0:
                running += weight / total
                bounds.append((running, ref))
        if bounds:
            bounds[-1] = (1.0, bounds[-1][1])
        object.__setattr__(self, "_bounds", tuple(bounds))
        object.__setattr__(self, "shadows", tuple(self.shadows))

    @property
    def refs(self) -> tuple[str, ...]:
        """Every version this table sends traffic to (answering or shadow)."""
        answering = [ref for _, ref in self._bounds] or [self.production]
        return tuple(dict.fromkeys([self.production, *answering, *self.shadows]))

    def choose(self, request_id: str, key: str | None = None) -> Route:
        """The version that answers the request ``request_id`` (``key``: its sticky key's
        value, when it has one)."""
        if not self._bounds:
            return Route(self.production, "production")
        point = unit_hash(self.model, self.revision, request_id if key is None else key)
        for bound, ref in self._bounds:
            if point < bound:
                return Route(ref, "ab")  # the production arm of a test too (ab_status's rows)
        return Route(self._bounds[-1][1], "ab")  # not reached: the last bound is 1

    def shadow_refs(self, answered_by: str) -> tuple[str, ...]:
        """The shadow versions that get a copy of a request ``answered_by`` answered."""
        return tuple(s for s in self.shadows if s != answered_by)

    @classmethod
    def from_split(
        cls,
        model: str,
        production: str,
        split: Mapping[int, float],
        shadows: Sequence[int] = (),
        *,
        revision: int = 0,
        sticky_key: str | None = None,
    ) -> Router:
        """The table from the registry's routing (versions as numbers)."""
        return cls(
            model,
            production,
            {f"{model}:{v}": float(w) for v, w in split.items()},
            tuple(f"{model}:{v}" for v in shadows),
            revision,
            sticky_key,
        )
