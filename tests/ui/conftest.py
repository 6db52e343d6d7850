"""The dashboard tests' registries.

``made_home`` builds, without torch, a registry holding what every page shows: a model with
three versions (a trained one in production with a run, its epoch metrics, an evaluation
and its plot; a compressed child with its comparison table; a continual child), an A/B
test, a shadow, an audit trail whose reason text is hostile HTML, and a prediction log.
The browser tests use the serving tests' real trained models instead
(``tests/serving/conftest.py``)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from neuroplast.registry import Registry, VersionRecord
from neuroplast.registry.artifacts import atomic_write_bytes
from neuroplast.types import ModelMetrics
from tests.serving.fixtures import (
    READY_TIMEOUT,
    Server,
    copy_home,
    free_port,
)
from tests.serving.test_page import browser, page  # noqa: F401 (fixtures)

MODEL = "rt-dash"
HOSTILE = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
COMPRESSION_TABLE = [
    {
        "technique": "parent",
        "backend": "torch",
        "size_mb": 1.2,
        "size_ratio": 1.0,
        "latency_p50_ms": 0.8,
        "latency_speedup": 1.0,
        "throughput_per_s": 9000.0,
        "throughput_speedup": 1.0,
        "accuracy": 0.71,
        "accuracy_change": 0.0,
        "f1_macro": 0.7,
        "f1_change": 0.0,
    },
    {
        "technique": "dynamic-int8",
        "backend": "torch",
        "size_mb": 0.4,
        "size_ratio": 3.0,
        "latency_p50_ms": 0.5,
        "latency_speedup": 1.6,
        "throughput_per_s": 12000.0,
        "throughput_speedup": 1.33,
        "accuracy": 0.705,
        "accuracy_change": -0.005,
        "f1_macro": 0.69,
        "f1_change": -0.01,
    },
]


def png_bytes(colour: tuple[int, int, int] = (10, 94, 168)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, format="PNG")
    return out.getvalue()


def _version(
    reg: Registry,
    *,
    source: str,
    metrics: dict[str, object],
    parent_id: int | None = None,
    run_id: int | None = None,
    plots: dict[str, bytes] | None = None,
) -> VersionRecord:
    draft = reg.create_version(
        MODEL,
        architecture="cnn",
        task="sentiment_analysis",
        modality="text",
        config={},
        source=source,
        parent_id=parent_id,
        run_id=run_id,
    )
    weights = draft.artifact_dir / "weights.safetensors"
    files = {"weights.safetensors": (weights, atomic_write_bytes(weights, b"not really weights"))}
    for name, data in (plots or {}).items():
        path = draft.artifact_dir / "plots" / name
        files[f"plots/{name}"] = (path, atomic_write_bytes(path, data))
    return reg.finalize_version(draft.id, files=files, params_count=12345, metrics=metrics)


def drift_report(alarms: list[bool], *, at: datetime) -> dict[str, object]:
    """A report as ``MonitorReport.to_dict()`` writes it: windows of 100, one test each."""
    windows = [
        {
            "index": i,
            "start": (at + timedelta(minutes=10 * i)).isoformat(),
            "end": (at + timedelta(minutes=10 * i + 9)).isoformat(),
            "size": 100,
            "alarm": alarm,
            "tests": [
                {"test": "input length (KS)", "statistic": 0.4, "p_value": 1e-5, "alarm": True}
                if alarm
                else {
                    "test": "input length (KS)",
                    "statistic": 0.05,
                    "p_value": 0.61,
                    "alarm": False,
                },
                {"test": "accuracy (ADWIN)", "statistic": 0.7, "p_value": None, "alarm": False},
            ],
        }
        for i, alarm in enumerate(alarms)
    ]
    return {
        "model": MODEL,
        "version": f"{MODEL}:1",
        "reference": "val",
        "reference_size": 600,
        "window": 100,
        "alpha": 0.05,
        "alarms": sum(alarms),
        "windows": windows,
        "notes": [],
    }


def _drift_and_loop(reg: Registry) -> None:
    """Two stored drift checks (the newest: window 1 of 3 alarms) and two loop decisions,
    one with hostile HTML in its numbers."""
    from neuroplast.registry.lifecycle import add_event

    day = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    reg.add_drift_check(drift_report([False, False], at=day), at=day + timedelta(hours=1))
    reg.add_drift_check(drift_report([False, True, False], at=day), at=day + timedelta(hours=2))
    add_event(
        reg,
        MODEL,
        "loop_check",
        reason="drift in 1 of 3 windows",
        details={"alarms": 1, "windows": 3, "feedback": 240, "min_p": 1e-5},
    )
    add_event(
        reg,
        f"{MODEL}:3",
        "loop_gate_reject",
        reason="lost points on the test set",
        details={"old_accuracy_drop": 0.031, "max_drop": 0.02, "note": HOSTILE},
    )


def make_home(home: Path) -> Path:
    """Fill ``home`` (see the module docstring); returns it."""
    from neuroplast.registry.lifecycle import promote

    with Registry(home) as reg:
        run = reg.start_run(MODEL, {"name": MODEL, "train": {"epochs": 3}})
        for epoch, (loss, val_loss, acc) in enumerate(
            [(0.69, 0.66, 0.58), (0.52, 0.58, 0.67), (0.41, 0.55, 0.71)], start=1
        ):
            reg.log_epoch(
                run.id,
                ModelMetrics(
                    epoch=epoch,
                    train_loss=loss,
                    val_loss=val_loss,
                    val_accuracy=acc,
                    learning_rate=1e-3,
                    samples_per_sec=5000.0,
                    seconds=1.5,
                ),
            )
        reg.complete_run(run.id)
        first = _version(
            reg,
            source="train",
            run_id=run.id,
            metrics={"test_accuracy": 0.71},
            plots={"confusion_test.png": png_bytes()},
        )
        reg.add_evaluation(
            first.id,
            split="test",
            data_source="rotten_tomatoes",
            metrics={"accuracy": 0.71, "f1_macro": 0.7},
            baseline={"accuracy": 0.66},
            plots={"confusion_matrix": first.artifact_dir / "plots" / "confusion_test.png"},
        )
        _version(
            reg,
            source="compress",
            parent_id=first.id,
            metrics={"technique": "dynamic-int8", "compression_table": COMPRESSION_TABLE},
        )
        _version(
            reg,
            source="continual",
            parent_id=first.id,
            metrics={
                "strategy": "replay",
                "old_accuracy_before": 0.71,
                "old_accuracy_after": 0.7,
                "new_accuracy_after": 0.83,
                "new_classes": ["meh"],
                "test_accuracy": 0.74,
            },
            plots={"accuracy_curves.png": png_bytes((213, 94, 0))},
        )
        _drift_and_loop(reg)
        promote(reg, f"{MODEL}:1", "production", reason=HOSTILE)
        reg.start_ab(MODEL, {1: 0.9, 2: 0.1}, reason="int8 on 10 %")
        reg.add_shadow(f"{MODEL}:3", reason="continual in the shadows")
        now = datetime.now(UTC)
        rows = []
        for i in range(40):
            version, arm = (2, "ab") if i % 10 == 0 else (1, "ab")
            rows.append(
                {
                    "request_id": f"req-{i}",
                    "item": 0,
                    "model": MODEL,
                    "version": version,
                    "arm": arm,
                    "at": now - timedelta(minutes=i % 7, seconds=5),
                    "label": "fresh",
                    "probability": 0.9,
                    "top_k": [["fresh", 0.9]],
                    "latency_ms": 2.0 + i % 5,
                    "input_text": HOSTILE,
                }
            )
            rows.append({**rows[-1], "version": 3, "arm": "shadow", "label": "rotten"})
        reg.log_predictions(rows)
        reg.add_feedback("req-1", "fresh")
    return home


@pytest.fixture(scope="session")
def made_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("dashboard-home"))


def launch_ui(home: Path, log_dir: Path, *args: str) -> Server:
    """``neuroplast ui`` on ``home`` on a free port of 127.0.0.1, once it answers."""
    port = free_port()
    env = {**os.environ, "NEUROPLAST_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("NEUROPLAST_DB_URL", None)
    log = log_dir / f"ui-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "neuroplast", "ui", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(home=home, port=port, process=process, log=log, env=env)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"neuroplast ui exited with {process.returncode}:\n{server.output()}"
            )
        try:
            if httpx.get(f"{server.url}/ui/", timeout=5.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"neuroplast ui did not answer within {READY_TIMEOUT} s:\n{server.output()}")


@pytest.fixture()
def ui_server(made_home: Path, tmp_path: Path) -> Iterator[Server]:
    """``neuroplast ui`` on a copy of ``made_home``, stopped after the test."""
    running = launch_ui(copy_home(made_home, tmp_path / "home"), tmp_path)
    yield running
    running.stop()
