"""How the registry's lookups scale with the number of training runs.

The registry is filled (with bulk inserts, so that filling takes seconds) to 1,000, then
3,000, then 10,000 runs of 20 epochs of metrics each, on top of a fixed catalogue of 50
models x 20 versions with their events, artifacts and evaluations. At each size it times,
median of several repeats, what users run every day:

- ``models list`` (``Registry.list_models``), ``models versions`` of one model,
  ``models history`` of one model;
- ``train --resume``'s lookup of the latest interrupted run of a config, and one run's
  epoch metrics (both are searches among all runs).

The baseline is the same database with its lookup indexes dropped (only primary keys and
unique constraints left), timed in the same run. The goal: with indexes, times grow far
slower than the number of runs (10x more runs -> well under 10x the time).

    .venv/bin/python benchmarks/bench_registry.py [--sizes 1000,3000,10000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import insert, inspect, text

from _common import console
from neuroplast.registry import Registry, history
from neuroplast.registry.schema import (
    ArtifactRow,
    EpochMetricRow,
    EvaluationRow,
    EventRow,
    ModelRow,
    RunRow,
    VersionRow,
    utcnow,
)
from neuroplast.registry.store import config_hash

MODELS, VERSIONS, EPOCHS = 50, 20, 20


def _config(i: int) -> dict[str, Any]:
    return {"name": f"model-{i % MODELS:02d}", "train": {"epochs": EPOCHS, "seed": i}}


def add_runs(reg: Registry, start: int, stop: int) -> None:
    """Runs ``start..stop-1`` with EPOCHS epoch rows each, in batches of 1,000 runs."""
    now = utcnow()
    for lo in range(start, stop, 1000):
        hi = min(stop, lo + 1000)
        with reg._session() as s:
            first = s.execute(text("SELECT COALESCE(MAX(id), 0) FROM runs")).scalar_one() + 1
            s.execute(
                insert(RunRow),
                [
                    {
                        "uid": uuid.uuid4().hex[:12],
                        "model_name": f"model-{i % MODELS:02d}",
                        "config": _config(i),
                        "config_hash": config_hash(_config(i)),
                        "status": "completed" if i % 10 else "interrupted",
                        "device": "cpu",
                        "precision": "32-true",
                        "checkpoint_dir": "",
                        "epochs_done": EPOCHS,
                        "started_at": now,
                    }
                    for i in range(lo, hi)
                ],
            )
            s.execute(
                insert(EpochMetricRow),
                [
                    {
                        "run_id": run_id,
                        "epoch": e,
                        "train_loss": 1.0 / e,
                        "val_loss": 1.1 / e,
                        "val_accuracy": 1 - 0.5 / e,
                        "learning_rate": 1e-3,
                        "samples_per_sec": 1000.0,
                        "seconds": 1.0,
                        "extra": {},
                    }
                    for run_id in range(first, first + hi - lo)
                    for e in range(1, EPOCHS + 1)
                ],
            )


def add_catalogue(reg: Registry) -> None:
    """50 models x 20 ready versions, each with 2 artifacts, an evaluation and an event."""
    now = utcnow()
    with reg._session() as s:
        for m in range(MODELS):
            model = ModelRow(name=f"model-{m:02d}", architecture="cnn", task="t", modality="text")
            s.add(model)
            s.flush()
            for v in range(1, VERSIONS + 1):
                row = VersionRow(
                    uid=uuid.uuid4().hex[:12],
                    model_id=model.id,
                    version=v,
                    status="ready",
                    source="train",
                    run_id=m * VERSIONS + v,
                    config={},
                    metrics={"test_accuracy": 0.8},
                    artifact_dir="",
                )
                s.add(row)
                s.flush()
                s.add_all(
                    [
                        ArtifactRow(
                            version_id=row.id,
                            name=n,
                            path=f"/x/{row.uid}/{n}",
                            sha256="0" * 64,
                            size_bytes=1,
                        )
                        for n in ("weights.safetensors", "model.json")
                    ]
                    + [
                        EvaluationRow(
                            version_id=row.id,
                            split="test",
                            data_source="rt",
                            metrics={"accuracy": 0.8},
                        ),
                        EventRow(
                            model_id=model.id,
                            version_id=row.id,
                            version=v,
                            action="train",
                            stage_to="candidate",
                            user="bench",
                            at=now,
                        ),
                    ]
                )


def drop_lookup_indexes(reg: Registry) -> int:
    """Drop every non-unique index (the baseline); returns how many were dropped."""
    dropped = 0
    with reg._engine.begin() as conn:
        for table in inspect(conn).get_table_names():
            for index in inspect(conn).get_indexes(table):
                if not index["unique"]:
                    conn.execute(text(f'DROP INDEX "{index["name"]}"'))
                    dropped += 1
    return dropped


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median over ``repeats`` of the mean time of enough calls to fill >= 50 ms."""
    start = time.perf_counter()
    fn()  # warm the page cache and SQLAlchemy's statement cache
    inner = max(1, int(0.05 / max(time.perf_counter() - start, 1e-6)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times) * 1000


def operations(reg: Registry, runs: int) -> dict[str, Callable[[], object]]:
    probe = runs - 10  # an interrupted run near the end (i % 10 == 0)
    return {
        "models list": reg.list_models,
        "models versions": lambda: reg.versions("model-07"),
        "models history": lambda: history(reg, "model-07"),
        "resume lookup": lambda: reg.latest_interrupted_run(_config(probe)),
        "epoch metrics of a run": lambda: reg.epoch_metrics(runs // 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = sorted(int(x) for x in args.sizes.split(","))
    if sizes[0] < MODELS * VERSIONS:
        parser.error(f"--sizes must start at {MODELS * VERSIONS} runs or more")

    workdir = Path(tempfile.mkdtemp(prefix="np-bench-registry-"))
    results: dict[int, dict[str, dict[str, float]]] = {}
    try:
        reg = Registry(workdir / "indexed")
        done = 0
        for size in sizes:
            start = time.perf_counter()
            add_runs(reg, done, size)
            if done == 0:  # the catalogue's versions point at the first runs
                add_catalogue(reg)
            done = size
            fill = time.perf_counter() - start
            indexed = {k: median_ms(f, args.repeats) for k, f in operations(reg, size).items()}
            reg.close()
            bare_home = workdir / f"bare-{size}"
            bare_home.mkdir()
            shutil.copy(workdir / "indexed" / "registry.db", bare_home / "registry.db")
            bare = Registry(bare_home)
            dropped = drop_lookup_indexes(bare)
            plain = {k: median_ms(f, args.repeats) for k, f in operations(bare, size).items()}
            bare.close()
            shutil.rmtree(bare_home)
            reg = Registry(workdir / "indexed")
            results[size] = {k: {"indexed": indexed[k], "no_index": plain[k]} for k in indexed}
            console.print(
                f"{size:,} runs ({size * EPOCHS:,} epoch rows): filled in {fill:.1f} s; "
                f"baseline drops {dropped} indexes"
            )
        reg.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    table = Table(title=f"Registry lookups (SQLite, median of {args.repeats}, ms)")
    table.add_column("operation")
    for size in sizes:
        table.add_column(f"{size:,} runs", justify="right")
        table.add_column("no index", justify="right")
    table.add_column(f"growth x{sizes[-1] // sizes[0]} runs", justify="right")
    table.add_column("no index growth", justify="right")
    for op in results[sizes[0]]:
        cells = []
        for size in sizes:
            cells += [f"{results[size][op]['indexed']:.2f}", f"{results[size][op]['no_index']:.2f}"]
        first, last = results[sizes[0]][op], results[sizes[-1]][op]
        growth = last["indexed"] / first["indexed"]
        table.add_row(op, *cells, f"{growth:.2f}x", f"{last['no_index'] / first['no_index']:.2f}x")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
