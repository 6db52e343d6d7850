"""Serving traffic in the registry: how each model's requests are routed, what was answered,
and what users said the answer should have been.

Routing (one row per model): an A/B split between ready versions (weights > 0 that sum to
1), an optional sticky key (the request field whose hash keeps a user on one version), and
shadow versions that get a copy of the traffic but never answer. Every change bumps the
routing's ``revision`` and writes an audit event (``neuroplast models history``), so a
server that polls :meth:`TrafficMixin.serving_state` notices it.

The prediction log and feedback (``_prediction_log``, a base of :class:`TrafficMixin`):
one row per input of an answered request, with the version and arm that answered it;
:meth:`TrafficMixin.ab_status` reads both (``_traffic_stats``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from neuroplast.errors import ConfigError, ModelNotFoundError, RegistryError
from neuroplast.registry._events import record_event
from neuroplast.registry._leases import aware
from neuroplast.registry._prediction_log import (
    ARMS,
    Arm,
    PredictionLogMixin,
    PredictionRecord,
    as_utc,
    find_model,
)
from neuroplast.registry._traffic_stats import ArmStatus, arm_statuses
from neuroplast.registry.schema import (
    ModelRow,
    RoutingRow,
    VersionRow,
    utcnow,
)

if TYPE_CHECKING:
    from neuroplast.registry.store import Registry

__all__ = [
    "ARMS",
    "MAX_SHADOWS",
    "Arm",
    "ArmStatus",
    "PredictionRecord",
    "Routing",
    "TrafficMixin",
    "format_split",
    "parse_split",
    "release_version",
]

#: Each shadow runs every request once more; a few are plenty to compare candidates.
MAX_SHADOWS = 4
_SUM_TOLERANCE = 1e-6
_VERSION_REF = re.compile(r"^(?P<name>[^:@]+):(?P<version>\d{1,10})$")


@dataclass(frozen=True)
class Routing:
    """A model's routing: ``split`` maps version numbers to weights (summing to 1; empty
    when no A/B test runs), ``shadows`` the versions that get a copy of every request."""

    model: str
    split: dict[int, float]
    sticky_key: str | None
    shadows: tuple[int, ...]
    revision: int
    started_at: datetime | None = None  # of the A/B test that runs, if one does

    @property
    def active(self) -> bool:
        """Whether an A/B split routes the requests (else the production version answers)."""
        return bool(self.split)


def format_split(split: Mapping[int, float]) -> str:
    """``{3: 0.9, 4: 0.1}`` -> ``3:0.9,4:0.1`` (what ``--split`` takes)."""
    return ",".join(f"{v}:{w:.6g}" for v, w in sorted(split.items()))


def parse_split(text: str) -> dict[int, float]:
    """``3:0.9,4:0.1`` -> ``{3: 0.9, 4: 0.1}``; the weights are checked by ``start_ab``."""
    split: dict[int, float] = {}
    for part in text.split(","):
        version, sep, weight = part.strip().partition(":")
        try:
            number, value = int(version), float(weight)
        except ValueError:
            number, value = 0, math.nan
        if not sep or number < 1 or not version.strip().isdigit() or math.isnan(value):
            raise ConfigError(
                f"--split {text!r}: {part.strip()!r} is not VERSION:WEIGHT; write the version "
                "numbers and their shares, e.g. --split 3:0.9,4:0.1"
            )
        if number in split:
            raise ConfigError(f"--split {text!r} names version {number} twice")
        split[number] = value
    return split


def _check_split(model: str, split: Mapping[int, float]) -> dict[int, float]:
    """Weights > 0 summing to 1 (within 1e-6), at least two versions; returned exact."""
    if len(split) < 2:
        raise ConfigError(
            f"an A/B test of {model} needs at least two versions, got "
            f"{format_split(split) or 'none'}; e.g. --split 3:0.9,4:0.1 (to send every request "
            "to one version, promote it: `neuroplast models promote`)"
        )
    for version, weight in split.items():
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ConfigError(f"A/B versions are numbers >= 1, not {version!r}")
        if not isinstance(weight, int | float) or not math.isfinite(weight) or weight <= 0:
            raise ConfigError(
                f"the weight of version {version} is {weight!r}; every weight must be a "
                "number > 0 (leave a version out of the split to send it nothing)"
            )
    total = math.fsum(split.values())
    if abs(total - 1.0) > _SUM_TOLERANCE:
        raise ConfigError(
            f"the A/B weights {format_split(split)} sum to {total:.6g}, not 1; make them add "
            "up to 1, e.g. --split 3:0.9,4:0.1"
        )
    return {v: w / total for v, w in sorted(split.items())}


def _routing_record(model: str, row: RoutingRow | None) -> Routing:
    if row is None:
        return Routing(model, {}, None, (), 0)
    return Routing(
        model=model,
        split={int(v): float(w) for v, w in (row.split or {}).items()} if row.active else {},
        sticky_key=row.sticky_key if row.active else None,
        shadows=tuple(int(v) for v in row.shadows or []),
        revision=row.revision,
        started_at=aware(row.started_at) if row.active and row.started_at else None,
    )


def _ready_numbers(s: Session, model_id: int) -> list[int]:
    return list(
        s.scalars(
            select(VersionRow.version)
            .where(VersionRow.model_id == model_id, VersionRow.status == "ready")
            .order_by(VersionRow.version)
        )
    )


def _version_row(s: Session, model: ModelRow, number: int) -> VersionRow:
    row = s.scalars(
        select(VersionRow).where(
            VersionRow.model_id == model.id,
            VersionRow.version == number,
            VersionRow.status == "ready",
        )
    ).first()
    if row is None:
        known = ", ".join(map(str, _ready_numbers(s, model.id))) or "none"
        raise ModelNotFoundError(
            f"{model.name}:{number} is not a ready version of {model.name}; its versions: "
            f"{known} (`neuroplast models versions {model.name}`)"
        )
    return row


def _answering(s: Session, model: ModelRow, routing: RoutingRow) -> dict[int, str]:
    """The versions that answer requests now -> why (an A/B arm, or production)."""
    if routing.active:
        return {int(v): "an A/B arm" for v in routing.split}
    production = s.scalars(
        select(VersionRow.version)
        .where(VersionRow.model_id == model.id, VersionRow.status == "ready")
        .order_by((VersionRow.stage == "production").desc(), VersionRow.version.desc())
        .limit(1)
    ).first()
    return {} if production is None else {production: "its production version"}


def _routing_for_update(s: Session, model: ModelRow) -> RoutingRow:
    row = s.scalars(
        select(RoutingRow).where(RoutingRow.model_id == model.id).with_for_update()
    ).first()
    if row is None:
        row = RoutingRow(
            model_id=model.id, split={}, sticky_key=None, shadows=[], revision=0, active=False
        )
        s.add(row)
    return row


def _stop(row: RoutingRow) -> None:
    row.split, row.sticky_key, row.active, row.stopped_at = {}, None, False, utcnow()


def release_version(s: Session, version: VersionRow, *, force: bool) -> None:
    """Before a version is deleted: take it out of its model's routing (with ``force``),
    else refuse while it is an A/B arm or a shadow. An A/B test left with one arm stops."""
    routing = s.scalars(
        select(RoutingRow).where(RoutingRow.model_id == version.model_id).with_for_update()
    ).first()
    if routing is None:
        return
    number, name = version.version, s.get(ModelRow, version.model_id)
    ref = f"{name.name if name else '?'}:{number}"
    arm = routing.active and str(number) in (routing.split or {})
    shadow = number in (routing.shadows or [])
    if not (arm or shadow):
        return
    if not force:
        model = ref.rpartition(":")[0]
        fix = f"`neuroplast ab stop {model}`" if arm else f"`neuroplast ab shadow {ref} --remove`"
        raise RegistryError(
            f"{ref} is {'an arm of the A/B test' if arm else 'a shadow'} of {model}; "
            f"take it out first ({fix}) or pass --force"
        )
    if shadow:
        routing.shadows = [v for v in routing.shadows if v != number]
        record_event(s, version.model_id, version, "shadow_stop", reason=f"{ref} deleted")
    if arm:
        rest = {v: w for v, w in routing.split.items() if v != str(number)}
        if len(rest) < 2:
            _stop(routing)
            record_event(s, version.model_id, version, "ab_stop", reason=f"{ref} deleted")
        else:
            total = math.fsum(rest.values())
            routing.split = {v: w / total for v, w in rest.items()}
            split = format_split({int(v): w for v, w in routing.split.items()})
            record_event(
                s, version.model_id, version, "ab_change", reason=f"{ref} deleted; now {split}"
            )
    routing.revision += 1


class TrafficMixin(PredictionLogMixin):
    """Routing, the prediction log and feedback; :class:`~neuroplast.registry.store.Registry`
    supplies the sessions and version lookups."""

    # ---- routing ---------------------------------------------------------------------------
    def routing(self, model: str) -> Routing:
        """The A/B split, sticky key and shadows of ``model`` (an empty split: no A/B)."""
        with self._session(readonly=True) as s:
            row = find_model(s, model)
            return _routing_record(
                row.name,
                s.scalars(select(RoutingRow).where(RoutingRow.model_id == row.id)).first(),
            )

    def start_ab(
        self,
        model: str,
        split: Mapping[int, float],
        *,
        sticky_key: str | None = None,
        reason: str = "",
    ) -> Routing:
        """Route ``model``'s requests between ready versions by weight (a running test's
        split is replaced). ``sticky_key``: the request field whose value keeps a user on
        one version (else the request id decides)."""
        clean = _check_split(model, split)
        if sticky_key is not None and not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", sticky_key):
            raise ConfigError(
                f"--sticky-key {sticky_key!r} is not a field name: use 1 to 100 letters, "
                "digits, '_', '-' or '.' (e.g. user_id)"
            )
        with self._session() as s:
            model_row = find_model(s, model, lock=True)
            for number in clean:
                _version_row(s, model_row, number)
            routing = _routing_for_update(s, model_row)
            shadows = sorted(set(clean) & set(routing.shadows or []))
            if shadows:
                raise ConfigError(
                    f"{model}:{shadows[0]} is a shadow of {model}; a version cannot answer and "
                    f"shadow at once: `neuroplast ab shadow {model}:{shadows[0]} --remove` first"
                )
            action = "ab_change" if routing.active else "ab_start"
            if not routing.active:
                routing.started_at = utcnow()
            routing.split = {str(v): w for v, w in clean.items()}
            routing.sticky_key, routing.active, routing.stopped_at = sticky_key, True, None
            routing.revision = (routing.revision or 0) + 1
            words = format_split(clean) + (f" sticky by {sticky_key}" if sticky_key else "")
            record_event(s, model_row.id, None, action, reason=_why(words, reason))
            s.flush()
            return _routing_record(model_row.name, routing)

    def stop_ab(self, model: str, *, promote: int | None = None, reason: str = "") -> Routing:
        """End ``model``'s A/B test; ``promote``: first make that arm the production version
        (through :func:`~neuroplast.registry.lifecycle.promote`). Shadows stay."""
        current = self.routing(model)
        if not current.active:
            raise RegistryError(
                f"{model} has no A/B test running; start one with `neuroplast ab start {model} "
                "--split 3:0.9,4:0.1`"
            )
        if promote is not None:
            if promote not in current.split:
                raise ConfigError(
                    f"--promote {promote}: the A/B test of {model} runs versions "
                    f"{', '.join(map(str, current.split))}; promote one of them"
                )
            from neuroplast.registry.lifecycle import promote as promote_version

            registry: Registry = self  # type: ignore[assignment]
            promote_version(
                registry, f"{model}:{promote}", "production", reason=reason or "won the A/B test"
            )
        with self._session() as s:
            model_row = find_model(s, model, lock=True)
            routing = _routing_for_update(s, model_row)
            if routing.active:  # another process may have stopped it meanwhile
                words = f"was {format_split({int(v): w for v, w in routing.split.items()})}"
                if promote is not None:
                    words += f"; v{promote} promoted to production"
                _stop(routing)
                routing.revision += 1
                record_event(s, model_row.id, None, "ab_stop", reason=_why(words, reason))
            s.flush()
            return _routing_record(model_row.name, routing)

    def add_shadow(self, ref: str, *, reason: str = "") -> Routing:
        """Mirror every request of the model to version ``ref`` (``name:N``): it runs off
        the request path, is logged and compared, and never answers."""
        name, number = self._version_ref(ref)
        with self._session() as s:
            model_row = find_model(s, name, lock=True)
            version = _version_row(s, model_row, number)
            routing = _routing_for_update(s, model_row)
            why = _answering(s, model_row, routing).get(number)
            if why is not None:
                raise ConfigError(
                    f"{ref} answers {name}'s requests ({why}); a shadow must be a version that "
                    "does not answer"
                )
            shadows = list(routing.shadows or [])
            if number in shadows:
                raise ConfigError(f"{ref} already shadows {name}")
            if len(shadows) >= MAX_SHADOWS:
                raise ConfigError(
                    f"{name} has {len(shadows)} shadows already (at most {MAX_SHADOWS}: each "
                    "one runs every request again); remove one with `neuroplast ab shadow "
                    f"{name}:N --remove`"
                )
            routing.shadows = sorted([*shadows, number])
            routing.revision = (routing.revision or 0) + 1
            record_event(s, model_row.id, version, "shadow_start", reason=reason)
            s.flush()
            return _routing_record(model_row.name, routing)

    def remove_shadow(self, ref: str, *, reason: str = "") -> Routing:
        """Stop mirroring requests to version ``ref`` (``name:N``)."""
        name, number = self._version_ref(ref)
        with self._session() as s:
            model_row = find_model(s, name, lock=True)
            routing = _routing_for_update(s, model_row)
            shadows = list(routing.shadows or [])
            if number not in shadows:
                listed = ", ".join(f"{name}:{v}" for v in shadows) or "none"
                raise ConfigError(f"{ref} is not a shadow of {name}; its shadows: {listed}")
            routing.shadows = [v for v in shadows if v != number]
            routing.revision += 1
            version = s.scalars(
                select(VersionRow).where(
                    VersionRow.model_id == model_row.id, VersionRow.version == number
                )
            ).first()
            record_event(s, model_row.id, version, "shadow_stop", reason=reason)
            s.flush()
            return _routing_record(model_row.name, routing)

    def _version_ref(self, ref: str) -> tuple[str, int]:
        """``name:N`` -> (name, N); other refs (``name@candidate``, a uid) are resolved."""
        match = _VERSION_REF.match(ref)
        if match:
            return match.group("name"), int(match.group("version"))
        if ":" not in ref and "@" not in ref:
            raise ConfigError(f"name a version: {ref}:N (see `neuroplast models versions {ref}`)")
        version = self.resolve(ref)
        return version.model_name, version.version

    # ---- what a server and a person read -------------------------------------------------
    def ab_status(self, model: str, *, since: datetime | None = None) -> list[ArmStatus]:
        """Per version and arm since ``since``: requests, latency p50/p95/p99 per request,
        agreement of a shadow with the version that answered, feedback and accuracy. The
        routing's arms and shadows are listed even before any traffic."""
        with self._session(readonly=True) as s:
            model_row = find_model(s, model)
            routing = _routing_record(
                model_row.name,
                s.scalars(select(RoutingRow).where(RoutingRow.model_id == model_row.id)).first(),
            )
            return arm_statuses(
                s,
                model_row,
                routing.split,
                routing.shadows,
                None if since is None else as_utc(since),
            )

    def serving_state(self, models: Sequence[str] | None = None) -> str:
        """A cheap fingerprint of what a server would serve (two indexed queries): per model
        its production and newest ready version, how many are ready, and its routing
        revision. It changes when any of them does; compare it, do not parse it."""
        with self._session(readonly=True) as s:
            versions = (
                select(
                    ModelRow.name,
                    func.max(VersionRow.version),
                    func.max(_production_number()),
                    func.count(VersionRow.id),
                )
                .join(VersionRow, VersionRow.model_id == ModelRow.id)
                .where(VersionRow.status == "ready")
                .group_by(ModelRow.name)
            )
            routes = select(ModelRow.name, RoutingRow.revision).join(
                RoutingRow, RoutingRow.model_id == ModelRow.id
            )
            if models is not None:
                versions = versions.where(ModelRow.name.in_(list(models)))
                routes = routes.where(ModelRow.name.in_(list(models)))
            revisions = dict(s.execute(routes).all())
            state = {
                name: f"{name}:p{production or 0}/n{newest}/c{count}/r{revisions.get(name, 0)}"
                for name, newest, production, count in s.execute(versions).all()
            }
        return ";".join(state[name] for name in sorted(state))


def _production_number() -> Any:
    return case((VersionRow.stage == "production", VersionRow.version), else_=None)


def _why(words: str, reason: str) -> str:
    return f"{words}; {reason}" if reason else words
