"""Anomaly detection (issue 20): the autoencoders' AUROC beside scikit-learn's baselines on
the same split, fitted in the same run.

- ``shuttle``: the anomaly-tabular template (dense autoencoder) on river's Shuttle, beside
  IsolationForest and LocalOutlierFactor (goal: AUROC within 0.02 of IsolationForest or better).
- ``ecg``: the anomaly-series template (1-D convolutional autoencoder, windows of 256) on
  sktime's MIT-BIH ECG, the same baselines on the same windows (same goal).
- ``fmnist``: the anomaly-image template (convolutional autoencoder) trained on one
  Fashion-MNIST class and scored on all 10,000 test images, for each ``--classes`` choice of
  the normal class, beside IsolationForest on the pixels.

Every result is one JSON line appended to ``--out`` (so that long runs split into chunks add
up), and a table at the end of each run::

    /tmp/s4/heavy .venv/bin/python benchmarks/bench_anomaly.py --parts shuttle,ecg --out r.jsonl
    /tmp/s4/heavy .venv/bin/python benchmarks/bench_anomaly.py --parts fmnist --classes 0,1,2,3,4
"""

from __future__ import annotations

import argparse
import json
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

PARTS = {"shuttle": "anomaly-tabular", "ecg": "anomaly-series", "fmnist": "anomaly-image"}


def run_one(part: str, overrides: list[str], home: Path) -> dict[str, Any]:
    """Train the part's template (with ``overrides``) and evaluate it beside its baselines."""
    raw = apply_overrides(yaml.safe_load(template_text(PARTS[part])), overrides)
    config = parse_run_config(raw, where=PARTS[part])
    handler = task_handler("anomaly_detection")
    registry = Registry(home)
    try:
        started = time.perf_counter()
        trained = handler.train(config, registry)
        train_seconds = time.perf_counter() - started
        report = handler.evaluate(registry, trained.version.ref)
    finally:
        registry.close()
    doc = report.document
    return {
        "part": part,
        "overrides": overrides,
        "version": doc["version"],
        "threshold": doc["threshold"],
        "model": doc["metrics"],
        "baselines": doc["baselines"],
        "train_seconds": round(train_seconds, 1),
        "epochs_trained": trained.version.metrics.get("epochs_trained"),
    }


def _rows(results: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in results:
        label = r["part"] + (f" class {r['normal_class']}" if "normal_class" in r else "")
        forest = r["baselines"].get("isolation_forest", {})
        lof = r["baselines"].get("lof", {})
        rows.append(
            [
                label,
                f"{r['model'].get('auroc', float('nan')):.4f}",
                f"{forest.get('auroc', float('nan')):.4f}",
                f"{lof.get('auroc', float('nan')):.4f}",
                f"{r['model'].get('auprc', float('nan')):.4f}",
                f"{r['model'].get('f1', float('nan')):.4f}",
                f"{r['train_seconds']:.0f}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="shuttle,ecg,fmnist")
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9", help="fmnist normal classes")
    parser.add_argument("--set", action="append", default=[], help="extra config override")
    parser.add_argument("--home", type=Path, default=None, help="registry (default: temporary)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/anomaly_results.jsonl"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = environment()
    print_environment(env)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-anomaly-"))
    results = []
    for part in args.parts.split(","):
        runs = (
            [[]]
            if part != "fmnist"
            else [
                [f"anomaly.normal_class={c}", f"name=fmnist-ae-{c}"]
                for c in args.classes.split(",")
            ]
        )
        for extra in runs:
            result = run_one(part, [*extra, *args.set], home)
            if part == "fmnist":
                result["normal_class"] = int(extra[0].split("=")[1])
            result["environment"] = env
            results.append(result)
            with args.out.open("a", encoding="utf-8") as out:
                out.write(json.dumps(result) + "\n")
            console.print(_rows([result])[0])
    print_table(
        "anomaly detection: test AUROC beside the baselines (same split, same run)",
        ["data", "AE AUROC", "IForest AUROC", "LOF AUROC", "AE AUPRC", "AE F1", "train s"],
        _rows(results),
    )


if __name__ == "__main__":
    main()
