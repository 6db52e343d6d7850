"""The prediction log and feedback half of the registry's serving traffic.

One row per input of an answered request: the version that answered by number (the log
outlives a deleted version), its arm (``production`` when no A/B split routed it, ``ab``
when one did, ``shadow`` for a mirrored copy that was never returned), the input (a text,
or an image's sha256 and a PNG thumbnail), the answer and the latency. Feedback (the true
label) joins it by (request id, item). Rows are written in batches, in one transaction.
"""

from __future__ import annotations

import json
import math
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from neuroplast.errors import ConfigError, DataError, ModelNotFoundError
from neuroplast.registry._leases import aware
from neuroplast.registry.artifacts import read_json_verified
from neuroplast.registry.records import VersionRecord
from neuroplast.registry.schema import FeedbackRow, ModelRow, PredictionRow, utcnow

__all__ = ["ARMS", "Arm", "PredictionLogMixin", "PredictionRecord", "as_utc", "find_model"]

Arm = Literal["production", "ab", "shadow"]
ARMS: tuple[str, ...] = get_args(Arm)
_ROW_KEYS = frozenset(
    {"request_id", "item", "model", "version", "arm", "at", "label", "probability", "top_k"}
    | {"latency_ms", "input_text", "input_sha256", "thumbnail"}
)
_OPTIONAL_KEYS = frozenset({"input_text", "input_sha256", "thumbnail"})


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


def as_utc(moment: datetime) -> datetime:
    """UTC; a naive moment is taken to be UTC already (SQLite compares the text)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def find_model(s: Session, name: str, *, lock: bool = False) -> ModelRow:
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
        "at": as_utc(row["at"]),
        "input_text": _text(row.get("input_text"), f"{where}: input_text", 10**6, optional=True),
        "input_sha256": _text(row.get("input_sha256"), f"{where}: input_sha256", 64, optional=True),
        "thumbnail": _text(row.get("thumbnail"), f"{where}: thumbnail", 10**6, optional=True),
        "label": _text(row["label"], f"{where}: label", 200),
        "probability": float(_number(row["probability"], f"{where}: probability", low=0)),
        "top_k": top_k,
        "latency_ms": float(_number(row["latency_ms"], f"{where}: latency_ms", low=0)),
    }


def _answer(s: Session, request_id: str, item: int) -> tuple[PredictionRow, str]:
    """The logged answer to input ``item`` of a request (not a shadow's), and its model's
    name; a clear error when the request or the item is not in the log."""
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
    if answer is not None:
        return answer[0], answer[1]
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


class PredictionLogMixin:
    """Log rows and feedback; :class:`~neuroplast.registry.store.Registry` supplies the
    sessions and version lookups."""

    @abstractmethod
    def _session(self, *, readonly: bool = False) -> AbstractContextManager[Session]: ...

    @abstractmethod
    def resolve(self, ref: str) -> VersionRecord: ...

    @abstractmethod
    def ensure_local(self, version: VersionRecord) -> VersionRecord: ...

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
            model_row = find_model(s, model)
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
                query = query.where(PredictionRow.at >= as_utc(since))
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

    def add_feedback(
        self,
        request_id: str,
        label: str,
        *,
        item: int = 0,
        model: str | None = None,
        new_class: bool = False,
    ) -> dict[str, Any]:
        """Record the true ``label`` of input ``item`` of a logged request (a second call
        replaces the first). Returns ``{request_id, item, model, version, predicted,
        label, correct, new_class}``.

        A label the answering version does not know is refused (a typo would otherwise
        become a class) unless ``new_class`` says it is one the model should learn: the
        closed loop (``neuroplast loop``) can then add it.

        Unknown request id (or one of another model than ``model``, when given):
        :class:`ModelNotFoundError`; an item the request did not have, or an unknown label
        without ``new_class``: :class:`DataError`.
        """
        _text(request_id, "request_id", 64)
        _text(label, "label", 200)
        _number(item, "item", low=0, integer=True)
        with self._session(readonly=True) as s:
            row, answered_by = _answer(s, request_id, item)
        if model is not None and answered_by != model:
            raise ModelNotFoundError(
                f"request {request_id} was answered by {answered_by}, not {model}: send its "
                f"feedback to {answered_by}"
            )
        model = answered_by
        labels = self._label_names(f"{model}:{row.version}")
        unknown = labels is not None and label not in labels
        if unknown and not new_class:
            raise DataError(
                f"{label!r} is not a label of {model}:{row.version}; its labels: "
                f"{', '.join(labels or [])} (a class the model should learn: send it with "
                "new_class true)"
            )
        self._upsert_feedback(request_id, item, label)
        return {
            "request_id": request_id,
            "item": item,
            "model": model,
            "version": row.version,
            "predicted": row.label,
            "label": label,
            "correct": row.label == label,
            "new_class": unknown,
        }

    def _upsert_feedback(self, request_id: str, item: int, label: str) -> None:
        """Insert the feedback row, or replace the label of one already there."""
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
                return
            except IntegrityError:  # another writer recorded it meanwhile: replace theirs
                if attempt:
                    raise

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


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # some drivers: text


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
