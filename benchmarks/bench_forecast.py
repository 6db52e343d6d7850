"""Forecasting (issue 20): the LSTM's MASE beside seasonal-naive and ETS (and ARIMA with
``--arima``) on the same rolling-origin folds, statsmodels' baselines refitted on each
fold's history in the same run.

- ``co2``: the forecast template as shipped (monthly Mauna Loa CO2, lookback 48, horizon
  24, 4 folds 12 months apart).
- ``sunspots``: yearly sunspot numbers (season 11), lookback 22, horizon 6, 8 folds 6 years
  apart, a smaller LSTM forecasting the scaled values (``relative: false``); the settings are
  the ``SUNSPOTS`` overrides below (chosen on 3 seeds against other LSTM settings).
- ``sunspots-tcn``: the same folds with the temporal CNN (lookback 33, relative).
- ``seattle``: vega's hourly Seattle temperatures (season 24), lookback 72, horizon 24,
  the last 7 days as folds (not in the default parts).

Each part is trained with ``--seeds`` (the network's seed; the data and folds are fixed), and
every run is one JSON line appended to ``--out``; the table gives each seed and the median::

    /tmp/s4/heavy .venv/bin/python benchmarks/bench_forecast.py --parts co2,sunspots --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from _common import console, environment, print_environment, print_table
from neuroplast.config import apply_overrides, parse_run_config, template_text
from neuroplast.registry import Registry
from neuroplast.tasks import task_handler

SUNSPOTS = [
    "name=sunspots-lstm",
    "data.dataset=sunspots",
    "forecast.lookback=22",
    "forecast.horizon=6",
    "forecast.folds=8",
    "forecast.fold_step=null",
    "model={architecture: lstm_forecaster, hidden_size: 32, relative: false}",
    "train.optimizer.lr=0.001",
    "train.epochs=150",
    "train.early_stopping.patience=20",
]
SUNSPOTS_TCN = [
    *SUNSPOTS[:-4],
    "name=sunspots-tcn",
    "model={architecture: tcn_forecaster}",
    "forecast.lookback=33",
    *SUNSPOTS[-3:],
]
SEATTLE = [
    "name=seattle-lstm",
    "data.dataset=seattle_temps",
    "forecast.lookback=72",
    "forecast.horizon=24",
    "forecast.folds=7",
    "forecast.fold_step=24",
]
PARTS: dict[str, list[str]] = {
    "co2": [],
    "sunspots": SUNSPOTS,
    "sunspots-tcn": SUNSPOTS_TCN,
    "seattle": SEATTLE,
}


def run_one(overrides: list[str], home: Path, arima: bool) -> dict[str, Any]:
    raw = apply_overrides(yaml.safe_load(template_text("forecast")), overrides)
    if arima:
        raw["forecast"]["baselines"] = ["seasonal_naive", "ets", "arima"]
    config = parse_run_config(raw, where="forecast")
    handler = task_handler("forecasting")
    registry = Registry(home)
    try:
        started = time.perf_counter()
        trained = handler.train(config, registry)
        train_seconds = time.perf_counter() - started
        doc = handler.evaluate(registry, trained.version.ref).document
    finally:
        registry.close()
    return {
        "overrides": overrides,
        "version": doc["version"],
        "origins": doc["origins"],
        "horizon": doc["horizon"],
        "season": doc["season"],
        "model": doc["metrics"],
        "baselines": doc["baselines"],
        "train_seconds": round(train_seconds, 1),
        "epochs_trained": trained.version.metrics.get("epochs_trained"),
    }


def _table(part: str, runs: list[dict[str, Any]]) -> list[list[str]]:
    rows = [
        [f"{part} seed {r['seed']}", f"{r['model']['mase']:.3f}", f"{r['model']['coverage']:.2f}"]
        + [f"{r['baselines'][b]['mase']:.3f}" for b in sorted(r["baselines"])]
        for r in runs
    ]
    median = statistics.median(r["model"]["mase"] for r in runs)
    rows.append([f"{part} median", f"{median:.3f}", "", *([""] * len(runs[0]["baselines"]))])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="co2,sunspots")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--arima", action="store_true", help="add the ARIMA baseline")
    parser.add_argument("--set", action="append", default=[], help="extra config override")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/forecast_results.jsonl"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = environment()
    print_environment(env)
    home = Path(tempfile.mkdtemp(prefix="bench-forecast-"))
    for part in args.parts.split(","):
        runs = []
        for seed in args.seeds.split(","):
            overrides = [*PARTS[part], f"train.seed={seed}", *args.set]
            result = {"part": part, "seed": int(seed), **run_one(overrides, home, args.arima)}
            result["environment"] = env
            runs.append(result)
            with args.out.open("a", encoding="utf-8") as out:
                out.write(json.dumps(result) + "\n")
        names = sorted(runs[0]["baselines"])
        console.print(f"{part}: origins {runs[0]['origins']}, horizon {runs[0]['horizon']}")
        print_table(
            f"{part}: MASE on the same rolling-origin folds (lower is better)",
            ["run", "model MASE", "interval coverage", *(f"{b} MASE" for b in names)],
            _table(part, runs),
        )


if __name__ == "__main__":
    main()
