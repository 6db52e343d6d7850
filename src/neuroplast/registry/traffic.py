"""Serving traffic in the registry: how each model's requests are routed, what was answered,
and what users said the answer should have been.

Routing (one row per model): an A/B split between ready versions (weights > 0 that sum to
1), an optional sticky key (the request field whose hash keeps a user on one version), and
shadow versions that get a copy of the traffic but never answer. Every change bumps the
routing's ``revision`` and writes an audit event (``neuroplast models history``), so a
server that polls :meth:`TrafficMixin.serving_state` notices it.

The prediction log holds one row per input of an answered request: the version that
answered by number (the log outlives a deleted version), its arm (``production`` when no
A/B split routed it, ``ab`` when one did, ``shadow`` for a mirrored copy), the input (a
text, or an image's sha256 and thumbnail), the answer and the latency. Feedback joins it
by (request id, item). :meth:`TrafficMixin.ab_status` reads both (``_traffic_stats``).
"""

from __future__ import annotations

import json
import math
import re
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlalchemy import case, delete, exists, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from neuroplast.errors import ConfigError, DataError, ModelNotFoundError, RegistryError
from neuroplast.registry._events import record_event
from neuroplast.registry._leases import aware
from neuroplast.registry._traffic_stats import ArmStatus, arm_statuses
from neuroplast.registry.artifacts import read_json_verified
from neuroplast.registry.records import VersionRecord
from neuroplast.registry.schema import (
    FeedbackRow,
    ModelRow,
    PredictionRow,
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

Arm = Literal["production", "ab", "shadow"]
ARMS: tuple[str, ...] = get_args(Arm)
#: Each shadow runs every request once more; a few are plenty to compare candidates.
MAX_SHADOWS = 4
_SUM_TOLERANCE = 1e-6
_ROW_KEYS = frozenset(
    {"request_id", "item", "model", "version", "arm", "at", "label", "probability", "top_k"}
    | {"latency_ms", "input_text", "input_sha256", "thumbnail"}
)
_OPTIONAL_KEYS = frozenset({"input_text", "input_sha256", "thumbnail"})
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


@dataclass(frozen=True)
class PredictionRecord:
    """One logged input and its answer; ``feedback`` is the true label, when one came."""

    id: int
    request_id: str
    item: int
    model: str
    version: int
    arm: str
    at: datetime
    input_text: str | None
    input_sha256: str | None
    thumbnail: str | None
    label: str
    probability: float
    top_k: list[tuple[str, float]]
    latency_ms: float
    feedback: str | None = None


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


def _utc(moment: datetime) -> datetime:
    """UTC; a naive moment is taken to be UTC already (SQLite compares the text)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _model(s: Session, name: str, *, lock: bool = False) -> ModelRow:
    query = select(ModelRow).where(ModelRow.name == name)
    model = s.scalars(query.with_for_update() if lock else query).first()
    if model is None:
        hint = (
            f"; name the model ({name.partition(':')[0]!r}), not a version"
            if ":" in name or "@" in name
            else ""
        )
        known = ", ".join(s.scalars(select(ModelRow.name).order_by(ModelRow.name).limit(20)))
        raise ModelNotFoundError(f"no model named {name!r}{hint}; models: {known or 'none yet'}")
    return model


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


def _number(value: Any, what: str, *, low: float, integer: bool = False) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or not math.isfinite(value) or value < low:
        kind = "an integer" if integer else "a number"
        raise DataError(f"{what} must be {kind} >= {low:g}, not {value!r}")
    return value


def _text(value: Any, what: str, limit: int, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or (not value and not optional) or len(value) > limit:
        raise DataError(f"{what} must be a text of 1 to {limit} characters, not {value!r:.80}")
    return value


def _prediction_values(index: int, row: Mapping[str, Any]) -> dict[str, Any]:
    """One log row checked and turned into column values (``model`` is still a name)."""
    where = f"prediction log row {index}"
    unknown, missing = set(row) - _ROW_KEYS, _ROW_KEYS - _OPTIONAL_KEYS - set(row)
    if unknown or missing:
        raise DataError(
            f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}; a row "
            f"has {', '.join(sorted(_ROW_KEYS))}"
        )
    if row["arm"] not in ARMS:
        raise DataError(f"{where}: arm is {row['arm']!r}; expected one of {', '.join(ARMS)}")
    if not isinstance(row["at"], datetime):
        raise DataError(f"{where}: at must be a datetime (UTC), not {row['at']!r:.80}")
    try:
        top_k = [[str(label), float(p)] for label, p in row["top_k"]]
    except (TypeError, ValueError) as e:
        raise DataError(f"{where}: top_k must be a list of [label, probability]: {e}") from e
    return {
        "request_id": _text(row["request_id"], f"{where}: request_id", 64),
        "item": _number(row["item"], f"{where}: item", low=0, integer=True),
        "model": row["model"],
        "version": _number(row["version"], f"{where}: version", low=1, integer=True),
        "arm": row["arm"],
        "at": _utc(row["at"]),
        "input_text": _text(row.get("input_text"), f"{where}: input_text", 10**6, optional=True),
        "input_sha256": _text(row.get("input_sha256"), f"{where}: input_sha256", 64, optional=True),
        "thumbnail": _text(row.get("thumbnail"), f"{where}: thumbnail", 10**6, optional=True),
        "label": _text(row["label"], f"{where}: label", 200),
        "probability": float(_number(row["probability"], f"{where}: probability", low=0)),
        "top_k": top_k,
        "latency_ms": float(_number(row["latency_ms"], f"{where}: latency_ms", low=0)),
    }


class TrafficMixin:
    """Routing, the prediction log and feedback; :class:`~neuroplast.registry.store.Registry`
    supplies the sessions and version lookups."""

    @abstractmethod
    def _session(self, *, readonly: bool = False) -> AbstractContextManager[Session]: ...

    @abstractmethod
    def resolve(self, ref: str) -> VersionRecord: ...

    @abstractmethod
    def ensure_local(self, version: VersionRecord) -> VersionRecord: ...

    # ---- the prediction log --------------------------------------------------------------
    def log_predictions(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write log rows (see the module docstring for their keys) in one transaction;
        returns how many. A bad row raises :class:`DataError` and nothing is written."""
        values = [_prediction_values(i, row) for i, row in enumerate(rows)]
        if not values:
            return 0
        names = {v["model"] for v in values}
        with self._session() as s:
            ids = dict(
                s.execute(select(ModelRow.name, ModelRow.id).where(ModelRow.name.in_(names))).all()
            )
            if len(ids) < len(names):
                missing = ", ".join(sorted(map(str, names - set(ids))))
                raise ModelNotFoundError(f"cannot log predictions of unknown models: {missing}")
            for v in values:
                v["model_id"] = ids[v.pop("model")]
            s.execute(insert(PredictionRow), values)
        return len(values)

    def predictions(
        self,
        model: str,
        *,
        since: datetime | None = None,
        limit: int = 1000,
        include_shadow: bool = False,
    ) -> list[PredictionRecord]:
        """The newest ``limit`` logged inputs of ``model`` (newest first), with feedback."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"limit must be an integer >= 1, not {limit!r}")
        with self._session(readonly=True) as s:
            model_row = _model(s, model)
            query = (
                select(PredictionRow, FeedbackRow.label)
                .outerjoin(
                    FeedbackRow,
                    (FeedbackRow.request_id == PredictionRow.request_id)
                    & (FeedbackRow.item == PredictionRow.item),
                )
                .where(PredictionRow.model_id == model_row.id)
            )
            if since is not None:
                query = query.where(PredictionRow.at >= _utc(since))
            if not include_shadow:
                query = query.where(PredictionRow.arm != "shadow")
            query = query.order_by(PredictionRow.at.desc(), PredictionRow.id.desc()).limit(limit)
            return [
                PredictionRecord(
                    id=r.id,
                    request_id=r.request_id,
                    item=r.item,
                    model=model_row.name,
                    version=r.version,
                    arm=r.arm,
                    at=aware(r.at),
                    input_text=r.input_text,
                    input_sha256=r.input_sha256,
                    thumbnail=r.thumbnail,
                    label=r.label,
                    probability=r.probability,
                    top_k=[(str(label), float(p)) for label, p in _json(r.top_k)],
                    latency_ms=r.latency_ms,
                    feedback=feedback,
                )
                for r, feedback in s.execute(query).all()
            ]

    def prune_predictions(
        self, *, max_age_days: float | None = None, max_rows: int | None = None
    ) -> int:
        """Delete log rows older than ``max_age_days`` and all but the ``max_rows`` logged
        last (None: no bound), and feedback whose request left the log; returns how many
        log rows went."""
        if max_age_days is not None:
            _number(max_age_days, "max_age_days", low=0)
        if max_rows is not None:
            _number(max_rows, "max_rows", low=0, integer=True)
        deleted = 0
        with self._session() as s:
            if max_age_days is not None:
                cutoff = utcnow() - timedelta(days=max_age_days)
                for model_id in s.scalars(select(ModelRow.id)).all():  # the (model, at) index
                    deleted += _rowcount(
                        s.execute(
                            delete(PredictionRow).where(
                                PredictionRow.model_id == model_id, PredictionRow.at < cutoff
                            )
                        )
                    )
            if max_rows is not None:
                edge = s.scalar(
                    select(PredictionRow.id)
                    .order_by(PredictionRow.id.desc())
                    .offset(max_rows)
                    .limit(1)
                )
                if edge is not None:
                    deleted += _rowcount(
                        s.execute(delete(PredictionRow).where(PredictionRow.id <= edge))
                    )
            if deleted:
                s.execute(
                    delete(FeedbackRow).where(
                        ~exists().where(PredictionRow.request_id == FeedbackRow.request_id)
                    )
                )
        return deleted

    def add_feedback(self, request_id: str, label: str, *, item: int = 0) -> dict[str, Any]:
        """Record the true ``label`` of input ``item`` of a logged request (a second call
        replaces the first). Returns ``{request_id, item, model, version, predicted,
        label, correct}``.

        Unknown request id: :class:`ModelNotFoundError`; an item the request did not have,
        or a label the model does not know: :class:`DataError`.
        """
        _text(request_id, "request_id", 64)
        _text(label, "label", 200)
        _number(item, "item", low=0, integer=True)
        with self._session(readonly=True) as s:
            answer = s.execute(
                select(PredictionRow, ModelRow.name)
                .join(ModelRow, ModelRow.id == PredictionRow.model_id)
                .where(
                    PredictionRow.request_id == request_id,
                    PredictionRow.item == item,
                    PredictionRow.arm != "shadow",
                )
                .order_by(PredictionRow.id)
                .limit(1)
            ).first()
            if answer is None:
                items = s.scalar(
                    select(func.count(PredictionRow.id)).where(
                        PredictionRow.request_id == request_id, PredictionRow.arm != "shadow"
                    )
                )
                if items:
                    raise DataError(
                        f"request {request_id} had {items} inputs (items 0 to {items - 1}); "
                        f"there is no item {item}"
                    )
                raise ModelNotFoundError(
                    f"no logged prediction has the request id {request_id!r}: check the id the "
                    "server answered with (the log may have sampled or pruned it)"
                )
        row, model = answer
        labels = self._label_names(f"{model}:{row.version}")
        if labels is not None and label not in labels:
            raise DataError(
                f"{label!r} is not a label of {model}:{row.version}; its labels: "
                f"{', '.join(labels)}"
            )
        for attempt in range(2):
            try:
                with self._session() as s:
                    found = s.scalars(
                        select(FeedbackRow).where(
                            FeedbackRow.request_id == request_id, FeedbackRow.item == item
                        )
                    ).first()
                    if found is None:
                        s.add(FeedbackRow(request_id=request_id, item=item, label=label))
                    else:
                        found.label, found.at = label, utcnow()
                break
            except IntegrityError:  # another writer recorded it meanwhile: replace theirs
                if attempt:
                    raise
        return {
            "request_id": request_id,
            "item": item,
            "model": model,
            "version": row.version,
            "predicted": row.label,
            "label": label,
            "correct": row.label == label,
        }

    def _label_names(self, ref: str) -> list[str] | None:
        """The labels ``model.json`` of ``ref`` names; None when the version is gone."""
        try:
            version = self.ensure_local(self.resolve(ref))
        except ModelNotFoundError:
            return None
        meta = version.artifacts.get("model.json")
        if meta is None:
            return None
        payload = read_json_verified(Path(meta.path), meta.sha256)
        names = payload.get("label_names") if isinstance(payload, dict) else None
        return [str(n) for n in names] if isinstance(names, list) else None

    # ---- routing ---------------------------------------------------------------------------
    def routing(self, model: str) -> Routing:
        """The A/B split, sticky key and shadows of ``model`` (an empty split: no A/B)."""
        with self._session(readonly=True) as s:
            row = _model(s, model)
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
            model_row = _model(s, model, lock=True)
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
            model_row = _model(s, model, lock=True)
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
            model_row = _model(s, name, lock=True)
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
            model_row = _model(s, name, lock=True)
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
            model_row = _model(s, model)
            routing = _routing_record(
                model_row.name,
                s.scalars(select(RoutingRow).where(RoutingRow.model_id == model_row.id)).first(),
            )
            return arm_statuses(
                s, model_row, routing.split, routing.shadows, None if since is None else _utc(since)
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


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # some drivers: text


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
