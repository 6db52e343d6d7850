"""The ``auto`` backend's choice table: for each batch size, the fastest lane that agrees
with eager fp32, and its cache.

A *lane* is one backend (``torch``, ``torch-int8``, ``onnx``, ``onnx-int8``) on one number of
intra-op threads (1, or all of the backend's). ``auto`` times every lane on padded batches of
real inputs at each size of the table (1, 8, 32, 64 and the largest size it will serve,
``max_batch``) and records, per size, the share of labels each backend gives like eager fp32
on those same batches. :func:`choose` keeps, for each size, the lane with the lowest median
milliseconds per input among those whose agreement is at least ``min_agreement`` (eager fp32
is always eligible).

A batch of ``n`` inputs runs on the entry of the smallest measured size ``>= n``
(:meth:`ChoiceTable.for_size`); the Predictor splits larger calls into batches of the largest
size, so a call of 200 inputs with ``max_batch=64`` runs three batches of 64 and one of 8.

Measurements depend on the machine, so the table is cached per machine in a small JSON file
(:func:`cache_path`): its name is a hash of the :func:`fingerprint` (CPU model, thread counts,
torch / ONNX Runtime / neuroplast versions, the model version's uid and the table's sizes),
and the file repeats the fingerprint, which must match exactly for the file to be used.
Nothing is ever unpickled; a file that cannot be read is reported and measured again.

This module imports neither torch nor numpy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from neuroplast.errors import ConfigError

__all__ = [
    "FORMAT",
    "REFERENCE",
    "SCHEMA_VERSION",
    "BatchChoice",
    "ChoiceTable",
    "LaneTiming",
    "cache_path",
    "choose",
    "cpu_model",
    "fingerprint",
    "read_cached",
    "write_cached",
]

logger = logging.getLogger(__name__)

FORMAT = "neuroplast-auto-choice"
SCHEMA_VERSION = 1
#: The backend every other one is compared with; always eligible.
REFERENCE = "torch"


@dataclass(frozen=True)
class LaneTiming:
    """One lane at one batch size: median milliseconds per input over ``repeats`` timed
    rounds with its spread (half their interquartile range), and the share of labels that
    agree with eager fp32 on the same batches."""

    backend: str
    threads: int
    batch_size: int
    ms_per_input: float
    spread_ms: float
    agreement: float
    repeats: int = 1


@dataclass(frozen=True)
class BatchChoice:
    """The lane ``auto`` runs batches of (up to) ``batch_size`` inputs on, with what it
    measured for it there and for eager fp32 on all its threads (``eager_ms``)."""

    batch_size: int
    backend: str
    threads: int
    ms_per_input: float
    spread_ms: float
    agreement: float
    eager_ms: float

    @property
    def speedup(self) -> float:
        """Eager fp32's time over the chosen lane's, at this batch size."""
        return self.eager_ms / self.ms_per_input if self.ms_per_input else 0.0


def choose(measured: Iterable[LaneTiming], *, min_agreement: float) -> tuple[BatchChoice, ...]:
    """For each measured batch size, the fastest lane whose agreement is at least
    ``min_agreement`` (eager fp32 is always eligible), in ascending batch size."""
    if not 0.0 <= min_agreement <= 1.0:
        raise ConfigError(f"min_agreement must be a share in [0, 1], got {min_agreement}")
    by_size: dict[int, list[LaneTiming]] = {}
    for t in measured:
        by_size.setdefault(t.batch_size, []).append(t)
    choices = []
    for size in sorted(by_size):
        lanes = by_size[size]
        reference = [t for t in lanes if t.backend == REFERENCE]
        if not reference:
            raise ConfigError(f"no {REFERENCE} (eager fp32) timing at batch size {size}")
        eligible = [t for t in lanes if t.backend == REFERENCE or t.agreement >= min_agreement]
        best = min(eligible, key=lambda t: t.ms_per_input)
        eager = max(reference, key=lambda t: t.threads)
        choices.append(
            BatchChoice(
                batch_size=size,
                backend=best.backend,
                threads=best.threads,
                ms_per_input=best.ms_per_input,
                spread_ms=best.spread_ms,
                agreement=best.agreement,
                eager_ms=eager.ms_per_input,
            )
        )
    return tuple(choices)


@dataclass(frozen=True)
class ChoiceTable:
    """What ``auto`` measured (every lane at every size) and chose (one lane per size)."""

    choices: tuple[BatchChoice, ...]
    measured: tuple[LaneTiming, ...]
    min_agreement: float
    fingerprint: Mapping[str, Any] = field(default_factory=dict)
    measured_at: str = ""
    #: ``"measured"`` in this process, or ``"cache"`` when read from the cache file.
    source: Literal["measured", "cache"] = "measured"

    @classmethod
    def from_measured(
        cls,
        measured: Iterable[LaneTiming],
        *,
        min_agreement: float,
        fingerprint: Mapping[str, Any] | None = None,
        measured_at: str | None = None,
    ) -> ChoiceTable:
        rows = tuple(measured)
        return cls(
            choices=choose(rows, min_agreement=min_agreement),
            measured=rows,
            min_agreement=min_agreement,
            fingerprint=dict(fingerprint or {}),
            measured_at=measured_at or datetime.now(UTC).isoformat(timespec="seconds"),
        )

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(c.batch_size for c in self.choices)

    @property
    def max_batch(self) -> int:
        """The largest measured batch size: larger calls are split into batches of it."""
        return self.choices[-1].batch_size

    @property
    def backends(self) -> tuple[str, ...]:
        """The backends some size runs on, in order of first use."""
        return tuple(dict.fromkeys(c.backend for c in self.choices))

    def for_size(self, n: int) -> BatchChoice:
        """The entry of the smallest measured size ``>= n`` (the largest one above it)."""
        for choice in self.choices:
            if n <= choice.batch_size:
                return choice
        return self.choices[-1]

    def summary(self) -> str:
        """``"onnx-int8 (1 thread) up to 8, onnx (2 threads) up to 64"``."""
        parts: list[str] = []
        for choice in self.choices:
            lane = f"{choice.backend} ({choice.threads} thread{'s' * (choice.threads > 1)})"
            if parts and parts[-1].startswith(lane + " up to"):
                parts[-1] = f"{lane} up to {choice.batch_size}"
            else:
                parts.append(f"{lane} up to {choice.batch_size}")
        return ", ".join(parts)

    def with_min_agreement(self, min_agreement: float) -> ChoiceTable:
        """The same measurements chosen again under another agreement threshold."""
        return replace(
            self,
            choices=choose(self.measured, min_agreement=min_agreement),
            min_agreement=min_agreement,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "fingerprint": dict(self.fingerprint),
            "measured_at": self.measured_at,
            "min_agreement": self.min_agreement,
            "choices": [asdict(c) for c in self.choices],
            "measured": [asdict(t) for t in self.measured],
        }

    @classmethod
    def from_json(cls, payload: Any, *, min_agreement: float) -> ChoiceTable:
        """Rebuild a table from :meth:`to_json`; the choice is made again from the
        measurements under ``min_agreement``. Raises ``ValueError`` on a malformed payload."""
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        if payload.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema version {payload.get('schema_version')!r}")
        rows = payload.get("measured")
        if not isinstance(rows, list) or not rows:
            raise ValueError("no measurements")
        try:
            measured = tuple(
                LaneTiming(
                    backend=str(row["backend"]),
                    threads=int(row["threads"]),
                    batch_size=int(row["batch_size"]),
                    ms_per_input=float(row["ms_per_input"]),
                    spread_ms=float(row["spread_ms"]),
                    agreement=float(row["agreement"]),
                    repeats=int(row.get("repeats", 1)),
                )
                for row in rows
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"a malformed measurement ({e})") from e
        return cls(
            choices=choose(measured, min_agreement=min_agreement),
            measured=measured,
            min_agreement=min_agreement,
            fingerprint=dict(payload.get("fingerprint") or {}),
            measured_at=str(payload.get("measured_at", "")),
            source="cache",
        )


# ---- the cache ---------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name, family, model and stepping from /proc/cpuinfo (Linux), else
    what :mod:`platform` knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return platform.processor() or platform.machine() or "unknown"
    fields: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            break  # the first processor is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.processor() or platform.machine() or "unknown"
    detail = [f"{k} {fields[k]}" for k in ("cpu family", "model", "stepping") if k in fields]
    return f"{name} ({', '.join(detail)})" if detail else name


def fingerprint(
    *,
    model_uid: str,
    sizes: Iterable[int],
    torch_threads: int,
    onnx_threads: int,
    versions: Mapping[str, str | None],
) -> dict[str, Any]:
    """What a cached table is only valid for: this CPU, these thread counts, these backend
    versions, this model version and these batch sizes."""
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "torch_threads": int(torch_threads),
        "onnx_threads": int(onnx_threads),
        "versions": dict(sorted(versions.items())),
        "model_uid": model_uid,
        "sizes": sorted(int(s) for s in sizes),
    }


def cache_path(directory: Path, key: Mapping[str, Any]) -> Path:
    """``directory / <sha256 of the fingerprint>.json`` (the first 24 hex digits)."""
    digest = hashlib.sha256(json.dumps(dict(key), sort_keys=True).encode("utf-8")).hexdigest()
    return Path(directory) / f"{digest[:24]}.json"


def read_cached(path: Path, key: Mapping[str, Any], *, min_agreement: float) -> ChoiceTable | None:
    """The table cached at ``path`` for exactly ``key``, else None (a missing file silently;
    an unreadable or foreign one with a warning: it is measured again and replaced)."""
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        table = ChoiceTable.from_json(payload, min_agreement=min_agreement)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as e:
        logger.warning("ignoring the auto backend cache %s (%s); measuring again", path, e)
        return None
    if dict(table.fingerprint) != json.loads(json.dumps(dict(key))):
        logger.warning("the auto backend cache %s is for another machine or model; measuring", path)
        return None
    return table


def write_cached(path: Path, table: ChoiceTable) -> bool:
    """Write ``table`` to ``path`` atomically (a reader sees the old file or the new one);
    False, with a warning, when the folder is not writable (a read-only home)."""
    from neuroplast.registry.artifacts import atomic_write_json

    try:
        atomic_write_json(path, table.to_json())
    except OSError as e:
        logger.warning(
            "cannot cache the auto backend table in %s (%s); it will be measured "
            "again at the next load",
            path,
            e,
        )
        return False
    return True
