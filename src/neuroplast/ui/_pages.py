"""The dashboard's pages: models, a model (versions, A/B and shadows, live traffic, stored
drift checks, the closed loop's decisions, audit trail), a version (lineage, metrics,
evaluations and their plots, compression table, continual results), runs and a run (its
metric curves), and a version's stored plots.

Routes are plain functions on one router (FastAPI runs them on its thread pool: the
registry blocks).
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from neuroplast.errors import ArtifactError, ModelNotFoundError
from neuroplast.registry import pages as q
from neuroplast.registry.lifecycle import lineage
from neuroplast.ui._charts import line_chart
from neuroplast.ui.app import render

if TYPE_CHECKING:
    from neuroplast.registry import EvaluationRecord, Registry, VersionRecord

__all__ = ["add_pages"]

router = APIRouter()

_MAX_NUMBER = 2**31 - 1
#: Compression keys shown as columns, in order (see compression/table.py for all of them).
_COMPRESSION_COLUMNS = (
    ("technique", "technique"),
    ("backend", "backend"),
    ("size_mb", "size MB"),
    ("size_ratio", "size ratio"),
    ("latency_p50_ms", "batch-1 ms/input"),
    ("latency_speedup", "speed-up"),
    ("throughput_per_s", "inputs/s"),
    ("throughput_speedup", "speed-up"),
    ("accuracy", "accuracy"),
    ("accuracy_change", "change"),
    ("f1_macro", "F1 macro"),
    ("f1_change", "change"),
)
#: Stored drift checks listed on a model's page (the newest is drawn window by window).
_DRIFT_CHECKS = 10
#: Closed-loop decisions listed on a model's page.
_LOOP_EVENTS = 20
_CONTINUAL_KEYS = (
    "strategy",
    "parent",
    "new_classes",
    "old_accuracy_before",
    "old_accuracy_after",
    "new_accuracy_before",
    "new_accuracy_after",
    "old_accuracy_drop",
    "test_accuracy",
    "update_data",
)


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def _page_number(request: Request, key: str = "page") -> int:
    text = request.query_params.get(key, "1")
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise ModelNotFoundError(f"there is no page {text!r}: pages are numbered from 1")
    return int(text)


def _number(text: str, what: str) -> int:
    if not text.isdigit() or int(text) > _MAX_NUMBER or int(text) < 1:
        raise ModelNotFoundError(f"{what} {text!r} does not exist: {what}s are numbers from 1")
    return int(text)


def drift_status(registry: Registry, model: str) -> dict[str, Any]:
    """The drift panel: the stored checks of ``model`` (newest first) and, per window of the
    newest, its alarm, the tests that raised it and the smallest p-value."""
    available = importlib.util.find_spec("neuroplast.monitoring") is not None
    checks = registry.drift_checks(model, limit=_DRIFT_CHECKS)
    windows = []
    if checks:
        for w in checks[0].report.get("windows", []):
            tests = [t for t in w.get("tests", []) if isinstance(t, dict)]
            p_values = [t["p_value"] for t in tests if isinstance(t.get("p_value"), int | float)]
            windows.append(
                {
                    "index": w.get("index"),
                    "start": _moment(w.get("start")),
                    "end": _moment(w.get("end")),
                    "alarm": bool(w.get("alarm")),
                    "tests": [str(t.get("test")) for t in tests if t.get("alarm")],
                    "min_p": min(p_values) if p_values else None,
                }
            )
    return {
        "available": available,
        "command": f"neuroplast monitor {model} --html drift.html",
        "checks": checks,
        "windows": windows,
    }


def _moment(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _evaluation_plots(
    version: VersionRecord, evaluation: EvaluationRecord
) -> list[tuple[str, str | None]]:
    """(plot name, artifact name or None when the plot was not stored with a checksum)."""
    by_location = {a.location: name for name, a in version.artifacts.items()}
    return [
        (name, by_location.get(str(location)) if isinstance(location, str) else None)
        for name, location in evaluation.plots.items()
    ]


def _compression_rows(version: VersionRecord) -> list[dict[str, Any]]:
    rows = version.metrics.get("compression_table")
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def add_pages(app: FastAPI) -> None:
    """Mount the dashboard's pages on ``app``."""
    app.include_router(router)


@router.get("/", response_class=HTMLResponse, name="ui_models")
def models(request: Request) -> Response:
    page = q.models_page(_registry(request), _page_number(request))
    return render(request, "models.html", page=page)


@router.get("/models/{name}", response_class=HTMLResponse, name="ui_model")
def model(request: Request, name: str) -> Response:
    registry = _registry(request)
    routing = registry.routing(name)  # unknown model: ModelNotFoundError, a 404 page
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    traffic = q.traffic(registry, name)
    chart = line_chart(
        "requests per minute, last hour",
        {"requests": [(i, n) for i, (_, n) in enumerate(traffic.per_minute)]},
        x_label="minute (UTC)",
        x_tick_labels={i: t.strftime("%H:%M") for i, (t, _) in enumerate(traffic.per_minute)},
    )
    return render(
        request,
        "model.html",
        name=name,
        versions=q.versions_page(registry, name, _page_number(request)),
        events=q.events_page(registry, name, _page_number(request, "events")),
        routing=routing,
        arms=registry.ab_status(name, since=hour_ago),
        traffic=traffic,
        traffic_chart=chart if traffic.requests else None,
        drift=drift_status(registry, name),
        loop_events=registry.loop_events(name, limit=_LOOP_EVENTS),
    )


@router.get("/models/{name}/versions/{number}", response_class=HTMLResponse, name="ui_version")
def version(request: Request, name: str, number: str) -> Response:
    registry = _registry(request)
    record = registry.resolve(f"{name}:{_number(number, 'version')}")
    evaluations = registry.evaluations(record)
    shown = {a for e in evaluations for _, a in _evaluation_plots(record, e) if a}
    plots = sorted(a for a in record.artifacts if a.startswith("plots/") and a.endswith(".png"))
    continual = {}
    if record.source == "continual":
        continual = {k: record.metrics[k] for k in _CONTINUAL_KEYS if k in record.metrics}
    return render(
        request,
        "version.html",
        version=record,
        lineage=lineage(registry, record.ref),
        evaluations=[(e, _evaluation_plots(record, e)) for e in evaluations],
        other_plots=[p for p in plots if p not in shown],
        compression=_compression_rows(record),
        compression_columns=_COMPRESSION_COLUMNS,
        continual=continual,
        metrics={  # the compression table and continual results have their own tables
            k: v
            for k, v in record.metrics.items()
            if k != "compression_table" and not k.startswith("plot_") and k not in continual
        },
    )


@router.get("/models/{name}/versions/{number}/plots/{file}", name="ui_plot")
def plot(request: Request, name: str, number: str, file: str) -> Response:
    registry = _registry(request)
    record = registry.resolve(f"{name}:{_number(number, 'version')}")
    artifact = record.artifacts.get(f"plots/{file}")
    if artifact is None or not file.endswith(".png"):
        raise ModelNotFoundError(f"{record.ref} has no stored plot named {file!r}")
    try:
        data = registry.artifact_store.get_verified(artifact.location, artifact.sha256)
    except ArtifactError as e:
        raise ModelNotFoundError(f"the plot {file!r} of {record.ref} cannot be shown: {e}") from e
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=60"}
    return Response(data, media_type="image/png", headers=headers)


@router.get("/runs", response_class=HTMLResponse, name="ui_runs")
def runs(request: Request) -> Response:
    page = q.runs_page(_registry(request), _page_number(request))
    return render(request, "runs.html", page=page)


@router.get("/runs/{run_id}", response_class=HTMLResponse, name="ui_run")
def run(request: Request, run_id: str) -> Response:
    registry = _registry(request)
    record = registry.get_run(_number(run_id, "run"))
    epochs = registry.epoch_metrics(record.id)
    loss = line_chart(
        "loss",
        {
            "train loss": [(m.epoch, m.train_loss) for m in epochs],
            "validation loss": [(m.epoch, m.val_loss) for m in epochs],
        },
    )
    accuracy = line_chart(
        "validation accuracy",
        {"validation accuracy": [(m.epoch, m.val_accuracy) for m in epochs]},
    )
    return render(
        request,
        "run.html",
        run=record,
        epochs=epochs,
        charts=[c for c in (loss, accuracy) if c is not None],
    )
