"""The models a server answers with: versions loaded from the registry, batched, routed,
logged, and swapped while the server runs.

>>> pool = ModelPool(registry, ["rt-cnn"], ServeSettings(backend="onnx"))  # doctest: +SKIP
>>> await pool.start()                                                     # doctest: +SKIP
>>> answer = await pool.predict("rt-cnn", ["a witty film"], request_id="r1")  # doctest: +SKIP

Each served version has its own Predictor and :class:`~neuroplast.serving.batcher.Batcher`.
A model's :class:`~neuroplast.serving.router.Router` picks the version that answers a
request (the production version, or an A/B arm); shadow versions get a copy of the request
in a task of its own, and their labels are compared with the answer's. A poll task watches
``Registry.serving_state()``; when it changes, :meth:`ModelPool.refresh` loads and warms
the new versions first, then swaps the routing tables in one assignment: a request routed
before the swap finishes on the old version, whose batcher is then drained and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import gc
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from time import perf_counter
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast.errors import ConfigError, DataError
from neuroplast.serving._answers import mixed_kinds, predictions_of, served_details
from neuroplast.serving._loading import (
    ServedVersion,
    check_inputs,
    load_task_served,
    load_version,
)
from neuroplast.serving._plan import plans as read_plans
from neuroplast.serving._pool_types import Answer, PoolObserver, ServedModel, ServeSettings
from neuroplast.serving._task_kinds import CLASSIFIER, NEUROMORPHIC, version_kind, wrong_route
from neuroplast.serving.errors import ModelNotServed, NotReady, QueueFull
from neuroplast.serving.explain import Explanations
from neuroplast.serving.predlog import LogEntry, PredictionLog
from neuroplast.serving.router import Router

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["Answer", "ModelPool", "PoolObserver", "ServeSettings", "ServedModel"]

logger = logging.getLogger(__name__)

#: Explanations (slow: tens of forward passes each) running or waiting, at most.
EXPLAIN_QUEUE = 16


class ModelPool:
    """The served models of one server process (see the module's docstring)."""

    def __init__(
        self,
        registry: Registry,
        models: Sequence[str] | None = None,
        settings: ServeSettings | None = None,
        observer: object | None = None,
    ) -> None:
        self.registry = registry
        self.requested = None if models is None else list(dict.fromkeys(models))
        self.settings = settings or ServeSettings()
        self.observer = observer if observer is not None else PoolObserver()
        self.log = PredictionLog(
            registry,
            sample=self.settings.log_sample,
            max_age_days=self.settings.log_max_age_days,
            max_rows=self.settings.log_max_rows,
        )
        self.explanations = Explanations(registry)
        #: Shadow inputs compared with the answer: (agreed, total) per shadow version.
        self.shadow_agreement: dict[str, tuple[int, int]] = {}
        #: Shadow copies skipped because the shadow's queue was full or it was swapped out.
        self.shadow_skipped = 0
        self._routers: dict[str, Router] = {}
        self._versions: dict[str, ServedVersion] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refresh_lock = asyncio.Lock()
        self._poll_task: asyncio.Task[None] | None = None
        self._explain_executor: ThreadPoolExecutor | None = None
        self._explaining = 0
        self._ready = False
        self._stopped = False
        self._state: str | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """True once every model is loaded and warmed, until :meth:`stop`."""
        return self._ready

    async def start(self) -> None:
        """Load and warm every served model, start the prediction log and the registry poll."""
        self._state = await asyncio.to_thread(self.registry.serving_state, self.requested)
        await self._refresh(initial=True)
        self.log.start()
        self._poll_task = asyncio.create_task(self._poll(), name="registry poll")
        self._ready = True

    async def stop(self) -> None:
        """Answer every accepted request (shadow copies too), write the log, release threads."""
        self._ready = False
        self._stopped = True
        if self._poll_task is not None:
            self._poll_task.cancel()
            await asyncio.gather(self._poll_task, return_exceptions=True)
        async with self._refresh_lock:
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await asyncio.gather(*(v.batcher.drain() for v in self._versions.values()))
        await asyncio.to_thread(self.log.close)
        if self._explain_executor is not None:
            await asyncio.to_thread(self._explain_executor.shutdown, True)

    async def flush_log(self) -> None:
        """Wait until every answer so far is in the registry's prediction log."""
        await asyncio.to_thread(self.log.flush)

    # ---- what is served ------------------------------------------------------------------
    def models(self) -> list[ServedModel]:
        out = []
        for name, router in sorted(self._routers.items()):
            version = self._versions[router.production]
            out.append(
                ServedModel(
                    name=name,
                    modality=version.spec.modality,
                    label_names=version.label_names,
                    input=version.spec,
                    production=router.production,
                    backend=version.backend,
                    arms=dict(router.arms),
                    shadows=list(router.shadows),
                    task=version.task,
                    details=served_details(version),
                )
            )
        return out

    def router(self, name: str) -> Router:
        """The routing table ``name`` is served with (:class:`ModelNotServed` if none)."""
        if not self._ready and not self._routers:
            raise NotReady("the server is still loading its models; retry in a moment")
        router = self._routers.get(name)
        if router is None:
            served = ", ".join(sorted(self._routers)) or "none"
            raise ModelNotServed(
                f"model {name!r} is not served here; served models: {served}",
                detail={"served": sorted(self._routers)},
            )
        return router

    # ---- predict -------------------------------------------------------------------------
    async def predict(
        self,
        name: str,
        inputs: str | Sequence[str] | np.ndarray,
        *,
        top_k: int = 1,
        key: str | None = None,
        request_id: str,
    ) -> Answer:
        """The answer of the version routed to for ``request_id`` (or sticky ``key``)."""
        start = perf_counter()
        router = self.router(name)
        route = router.choose(request_id, key)
        version = self._versions[route.ref]
        if version.task not in (CLASSIFIER, NEUROMORPHIC):
            raise wrong_route(name, version.task, "predict")
        items = check_inputs(version.spec, inputs)
        labels = version.label_names
        if not 1 <= top_k <= len(labels):
            raise DataError(f"top_k must be between 1 and the number of classes ({len(labels)})")
        rows = await version.batcher.submit(items)
        self._queue_seen(version)
        predictions = predictions_of(rows, labels, top_k)
        latency_ms = (perf_counter() - start) * 1000.0
        answer = Answer(request_id, name, route.ref, version.backend, predictions, latency_ms)
        if version.task == NEUROMORPHIC:
            answer = dataclasses.replace(answer, answers=list(rows))
        logged = self.log.sampled(request_id)
        if logged:
            self.log.add(
                LogEntry(
                    request_id,
                    name,
                    route.ref,
                    route.arm,
                    datetime.now(UTC),
                    items,
                    predictions,
                    latency_ms,
                )
            )
        for shadow in router.shadow_refs(route.ref):
            self._spawn(self._shadow(shadow, items, predictions, request_id, logged))
        return answer

    def task_version(
        self, name: str, kind: str, route: str, *, request_id: str, key: str | None = None
    ) -> tuple[ServedVersion, str]:
        """The version of task model ``name`` that answers ``request_id`` (or sticky ``key``)
        and its arm; a :class:`WrongRoute` when ``name`` is not a model of ``kind``."""
        chosen = self.router(name).choose(request_id, key)
        version = self._versions[chosen.ref]
        if version.task != kind:
            raise wrong_route(name, version.task, route)
        return version, chosen.arm

    async def run_task(self, version: ServedVersion, items: list[Any]) -> list[Any]:
        """The outputs of a task version for prepared ``items``, through its batcher."""
        outputs = await version.batcher.submit(items)
        self._queue_seen(version)
        return outputs

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shadow(
        self,
        ref: str,
        items: list[Any],
        answered: list[Any],
        request_id: str,
        logged: bool,
    ) -> None:
        """Run a copy of a request on shadow ``ref``; compare; log. Never raises."""
        version = self._versions.get(ref)
        if version is None or version.batcher.closed:
            self.shadow_skipped += 1
            return
        start = perf_counter()
        try:
            rows = await version.batcher.submit(items)
        except (QueueFull, NotReady):
            self.shadow_skipped += 1
            return
        except Exception as e:  # a failing shadow never touches the answer; it is logged
            logger.warning("shadow %s failed on request %s: %s", ref, request_id, e)
            return
        latency_ms = (perf_counter() - start) * 1000.0
        predictions = predictions_of(rows, version.label_names, 1)
        agreed = sum(p.label == a.label for p, a in zip(predictions, answered, strict=True))
        before = self.shadow_agreement.get(ref, (0, 0))
        self.shadow_agreement[ref] = (before[0] + agreed, before[1] + len(predictions))
        self._notify("on_shadow", version.model, ref, agreed, len(predictions))
        if logged:
            self.log.add(
                LogEntry(
                    request_id,
                    version.model,
                    ref,
                    "shadow",
                    datetime.now(UTC),
                    items,
                    predictions,
                    latency_ms,
                )
            )

    # ---- explain -------------------------------------------------------------------------
    async def explain(
        self,
        name: str,
        input: str | np.ndarray,
        *,
        method: str | None = None,
        request_id: str,
    ) -> dict[str, Any]:
        """Token attributions (text) or a heat-map overlay (image) of ``input``'s predicted
        class under the version that would answer ``request_id``; loads torch the first time."""
        router = self.router(name)
        ref = router.choose(request_id).ref
        if self._explaining >= EXPLAIN_QUEUE:
            raise QueueFull(
                f"{EXPLAIN_QUEUE} explanations are running or waiting; retry in a moment",
                retry_after=1.0,
            )
        if self._explain_executor is None:
            self._explain_executor = ThreadPoolExecutor(1, thread_name_prefix="np-explain")
        loop = asyncio.get_running_loop()
        self._explaining += 1
        try:
            result = await loop.run_in_executor(
                self._explain_executor,
                lambda: self.explanations.explain(ref, input, method=method),
            )
        finally:
            self._explaining -= 1
        return {"request_id": request_id, "model": name, **result}

    # ---- hot changes ---------------------------------------------------------------------
    async def refresh(self) -> bool:
        """Read the registry again; load and warm new versions, then swap. True when what
        is served changed."""
        return await self._refresh(initial=False)

    def _load(self, model: str, ref: str) -> ServedVersion:
        def on_batch(size: int, seconds: float) -> None:
            self._notify("on_batch", model, ref, size, seconds)
            self._notify("on_queue", model, ref, version.batcher.depth)

        s = self.settings
        kind = version_kind(self.registry.ensure_local(self.registry.resolve(ref)))
        if kind != CLASSIFIER:
            version = load_task_served(
                self.registry,
                model,
                ref,
                kind,
                batching=(s.max_batch, s.max_wait_ms, s.max_queue),
                on_batch=on_batch,
            )
            return version
        version = load_version(
            self.registry,
            model,
            ref,
            backend=s.backend,
            threads=s.threads,
            warm_up=s.warm,
            batching=(s.max_batch, s.max_wait_ms, s.max_queue),
            on_batch=on_batch,
        )
        return version

    async def _refresh(self, *, initial: bool) -> bool:
        async with self._refresh_lock:
            if self._stopped:
                return False
            unreadable: dict[str, Exception] = {}
            try:
                plans = await asyncio.to_thread(
                    read_plans,
                    self.registry,
                    self.requested,
                    errors=None if initial else unreadable,
                )
            except Exception:
                if initial:
                    raise
                logger.exception("cannot read what to serve from the registry; keeping it")
                return False
            loaded: dict[str, ServedVersion] = {}
            failed: set[str] = set()
            for name, router in plans.items():
                for ref in router.refs:
                    if ref in self._versions or ref in loaded or ref in failed:
                        continue
                    try:
                        loaded[ref] = await asyncio.to_thread(self._load, name, ref)
                    except Exception:
                        if initial:
                            raise
                        logger.exception("cannot load %s; %s keeps its current versions", ref, name)
                        failed.add(ref)
            routers = dict(self._routers)
            for name, router in plans.items():
                mixed = mixed_kinds(router, {**self._versions, **loaded})
                if mixed is not None:
                    if initial:
                        raise ConfigError(mixed)
                    logger.error("%s; %s keeps its current versions", mixed, name)
                elif failed.isdisjoint(router.refs):
                    routers[name] = router
            for name, error in unreadable.items():
                logger.warning("cannot read what to serve for %s (%s); keeping it", name, error)
            for name in list(routers):
                if name not in plans and name not in unreadable:
                    del routers[name]
            changed = routers != self._routers
            old = self._routers
            # the swap: new versions in, then the tables in one assignment
            self._versions.update(loaded)
            self._routers = routers
            for name, router in routers.items():
                before = old.get(name)
                if before is not None and before.production != router.production:
                    logger.info("%s: %s -> %s", name, before.production, router.production)
                    self._notify("on_swap", name, before.production, router.production)
            used = {ref for router in routers.values() for ref in router.refs}
            for ref in [r for r in self._versions if r not in used]:
                self._spawn(self._retire(self._versions.pop(ref)))
            return changed

    async def _retire(self, version: ServedVersion) -> None:
        await version.batcher.drain()
        ref = version.ref
        self.explanations.drop(ref)
        del version  # the last reference: its predictor and ONNX sessions go now
        _return_freed_memory()
        logger.info("%s drained and unloaded", ref)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            try:
                state = await asyncio.to_thread(self.registry.serving_state, self.requested)
                if state != self._state:
                    self._state = state
                    await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # the registry may be briefly unreachable: poll again
                logger.exception("polling the registry for changes failed")

    # ---- helpers -------------------------------------------------------------------------
    def _queue_seen(self, version: ServedVersion) -> None:
        self._notify("on_queue", version.model, version.ref, version.batcher.depth)

    def _notify(self, hook: str, *args: Any) -> None:
        method = getattr(self.observer, hook, None)
        if method is None:
            return
        try:
            method(*args)
        except Exception:  # metrics never fail a request
            logger.exception("observer %s failed", hook)


def _return_freed_memory() -> None:
    """Give the memory of an unloaded version back to the system: glibc keeps freed blocks
    in its arenas, so without this each promote or rollback left the resident size a step
    higher (bench_serving --soak). Elsewhere (no glibc) a no-op."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
