"""The Engine's production verbs: the HTTP server, A/B tests and shadows, drift monitoring
and the closed loop.

A mixin of the Engine (see :mod:`neuroplast._engine_base`); it holds no logic of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.registry.traffic import ArmStatus, Routing, parse_split

if TYPE_CHECKING:
    from fastapi import FastAPI

    from neuroplast.loop import LoopPolicy, LoopReport
    from neuroplast.monitoring import MonitorReport

from neuroplast._engine_base import EngineServices

__all__ = ["ServingVerbs"]


class ServingVerbs(EngineServices):
    """Production: the HTTP server, A/B tests and shadows, drift monitoring and the closed loop."""

    # ---- A/B tests and shadows (what a running server routes) ------------------------------
    def ab_start(
        self,
        model: str,
        split: Mapping[int, float] | str,
        *,
        sticky_key: str | None = None,
        reason: str = "",
    ) -> Routing:
        """Split ``model``'s traffic between versions: ``{3: 0.9, 4: 0.1}`` or ``"3:0.9,4:0.1"``
        (weights > 0 summing to 1); ``sticky_key`` keeps each user on one version."""
        weights = parse_split(split) if isinstance(split, str) else split
        return self.registry.start_ab(model, weights, sticky_key=sticky_key, reason=reason)

    def ab_shadow(self, ref: str, *, remove: bool = False, reason: str = "") -> Routing:
        """Mirror every request of the model to version ``ref`` (``name:N``), never answering
        with it; ``remove`` stops that."""
        if remove:
            return self.registry.remove_shadow(ref, reason=reason)
        return self.registry.add_shadow(ref, reason=reason)

    def ab_status(
        self, model: str, *, since: datetime | timedelta | None = None
    ) -> list[ArmStatus]:
        """Per version and arm: requests, latency p50/p95/p99, a shadow's agreement with the
        answering version, feedback and accuracy; ``since`` a moment or a time ago."""
        if isinstance(since, timedelta):
            since = datetime.now(UTC) - since
        return self.registry.ab_status(model, since=since)

    def ab_stop(self, model: str, *, promote: int | None = None, reason: str = "") -> Routing:
        """End ``model``'s A/B test; ``promote`` makes that version production first."""
        return self.registry.stop_ab(model, promote=promote, reason=reason)

    def serve(self, models: Sequence[str] | None = None, **options: Any) -> FastAPI:
        """The HTTP server as an ASGI app (FastAPI) to run or mount: ``models`` by name
        (default: every model with a production version). ``options`` are those of
        :class:`~neuroplast.serving.pool.ServeSettings` (``backend``, ``max_batch``,
        ``max_wait_ms``, ...), of :class:`~neuroplast.serving.limits.Limits`
        (``max_body_bytes``, ``max_inputs``, ``max_text_chars``, ``max_image_pixels``) and
        ``api_key`` (default ``$NEUROPLAST_API_KEY``). The models load in the app's lifespan."""
        from neuroplast.serving.app import create_app
        from neuroplast.serving.limits import Limits
        from neuroplast.serving.pool import ServeSettings
        from neuroplast.serving.server import served_models, split_options

        settings, limits, api_key = split_options(ServeSettings, Limits, options)
        names = served_models(self.registry, models or ())
        return create_app(self.registry, names, settings, limits=limits, api_key=api_key)

    def monitor(
        self,
        model_id: str,
        *,
        window: int = 500,
        since: datetime | None = None,
        reference: str = "heldout",
        alpha: float = 0.05,
        store: bool = True,
        embeddings: str | None = None,
    ) -> MonitorReport:
        """Drift tests on the logged traffic of ``model_id`` (a name: its production
        version), window by window, against a sample of the version's ``reference`` split
        (heldout = val and test, val, test or train; stored on the version on first use).
        Needs the monitor extra.
        ``store``: keep the report in the registry (the dashboard shows the newest).
        ``embeddings="minilm"``: text models also get a test of the texts' MiniLM sentence
        vectors (the encoders extra)."""
        from neuroplast.monitoring import monitor_traffic

        return monitor_traffic(
            self.registry, model_id, window=window, since=since, reference=reference,
            alpha=alpha, store=store, embeddings=embeddings,
        )  # fmt: skip

    def loop(
        self, model: str, policy: str | Path | LoopPolicy, *, dry_run: bool = False
    ) -> LoopReport:
        """One step of the closed loop on ``model`` under ``policy`` (a ``loop.yaml`` path or
        a :class:`~neuroplast.loop.LoopPolicy`): decide its running rollout, or check drift
        and feedback, train a candidate, gate it and roll it out. ``dry_run``: say what it
        would do and change nothing."""
        from neuroplast.loop import run_loop

        return run_loop(self.registry, model, policy, dry_run=dry_run)
