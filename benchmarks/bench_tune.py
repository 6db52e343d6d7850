"""What the Optuna integration of ``neuroplast tune`` costs per trial (issue 19; goal <= 5 %).

The same trainings run two ways, interleaved round by round (so a burst of load on a shared
machine hits both alike):

- ``direct``: ``fit_config`` of the trial's config on the already prepared data, nothing
  else (the training loop alone);
- ``tune``: one trial of a real study through ``study.optimize`` with those parameters
  enqueued: Optuna's sampling and SQLite storage (beside a fresh registry), heartbeats,
  the pruning callback's report per epoch (median pruner, which never prunes here: every
  trial is within its startup trials) and the registry run with its per-epoch metrics.

``--params`` parameter sets (drawn once by a seeded random sampler from the text CNN's
default space) each run ``--repeats`` times both ways; per set the ratio of the median
``tune`` time to the median ``direct`` time, and overall the median of those ratios.

    .venv/bin/python benchmarks/bench_tune.py [--quick] [--json out.json]
    .venv/bin/python benchmarks/bench_tune.py --template --rows 4000 --epochs 2

``--template`` trains the ``text-cnn`` template's model (MiniLM word vectors, 100 filters of
widths 3-5) instead of the small CNN below: the trials of the Rotten Tomatoes study of
docs/tuning.md, whose length is what the fixed cost is divided by there.

Besides the ratio it prints the fixed cost in seconds (median of ``tune - direct``) and what
that cost is for trials 5 and 25 times as long (the text CNN study's trials train for tens
of seconds; these for about two).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from _common import console, environment, print_environment, print_table, write_json
from neuroplast.config import parse_run_config, template_text
from neuroplast.registry import Registry
from neuroplast.tuning import SearchSpace, TuneSettings
from neuroplast.tuning.space import apply_params
from neuroplast.tuning.storage import StorageSpec, open_storage
from neuroplast.tuning.study import open_study
from neuroplast.tuning.trial import DataCache, TrialRunner, fit_config

SPACE = {
    "params": {
        "train.optimizer.lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True},
        "model.dropout": {"type": "float", "low": 0.1, "high": 0.6},
        "model.num_filters": {"type": "int", "low": 32, "high": 96, "step": 32},
    }
}


def base_config(rows: int, epochs: int, *, template: bool = False) -> Any:
    if template:
        raw = yaml.safe_load(template_text("text-cnn"))
        raw["name"] = "bench-tune"
        raw["data"]["limit"] = rows
        raw["train"]["epochs"] = epochs
        raw["train"]["early_stopping"] = {"enabled": False}
        return parse_run_config(raw)
    return parse_run_config(
        {
            "name": "bench-tune",
            "data": {
                "dataset": "rotten_tomatoes",
                "limit": rows,
                "seed": 3,
                "max_length": 48,
                "vocab": {"max_size": 8000, "min_freq": 1},
            },
            "model": {"architecture": "cnn", "embedding_dim": 64, "num_filters": 64},
            "train": {"epochs": epochs, "batch_size": 64, "seed": 7},
        }
    )


def draw_params(space: SearchSpace, count: int) -> list[dict[str, Any]]:
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=11))
    return [space.suggest(study.ask()) for _ in range(count)]


def run(args: argparse.Namespace) -> dict[str, Any]:
    config = base_config(args.rows, args.epochs, template=args.template)
    space = SearchSpace.model_validate(SPACE)
    param_sets = draw_params(space, args.params)
    folder = Path(tempfile.mkdtemp(prefix="bench-tune-"))
    registry = Registry(folder / "home")
    storage = open_storage(StorageSpec(f"sqlite:///{folder / 'home' / 'optuna.db'}"))
    trials = len(param_sets) * (args.repeats + 1)
    settings = TuneSettings(study="bench", trials=trials, startup_trials=trials, pruner="median")
    study = open_study(settings, storage, config, space, seed=0)
    runner = TrialRunner(registry, config, space, settings.metric, "bench")
    data = DataCache().get(config)
    runner.cache.get(config)  # both ways start from prepared data

    def direct(params: dict[str, Any]) -> None:
        fit_config(apply_params(config, params), data, [])

    def tuned(params: dict[str, Any]) -> None:
        study.enqueue_trial(params)
        study.optimize(runner, n_trials=1)

    times: dict[str, list[list[float]]] = {"direct": [], "tune": []}
    for params in param_sets:  # warm-up: one untimed run each way
        direct(params)
        tuned(params)
    for name in times:
        times[name] = [[] for _ in param_sets]
    for _ in range(args.repeats):
        for k, params in enumerate(param_sets):
            for name, call in (("direct", direct), ("tune", tuned)):
                start = time.perf_counter()
                call(params)
                times[name][k].append(time.perf_counter() - start)
    rows = []
    for k, params in enumerate(param_sets):
        d, t = statistics.median(times["direct"][k]), statistics.median(times["tune"][k])
        rows.append(
            {"params": params, "direct_s": d, "tune_s": t, "ratio": t / d, "extra_s": t - d}
        )
    registry.close()
    ratio = statistics.median(r["ratio"] for r in rows)
    return {
        "rows": rows,
        "median_ratio": ratio,
        "overhead_pct": (ratio - 1) * 100,
        "extra_s": statistics.median(r["extra_s"] for r in rows),
        "direct_s": statistics.median(r["direct_s"] for r in rows),
    }


def longer_trials(result: dict[str, Any], factors: tuple[int, ...] = (5, 25)) -> str:
    """What the same fixed cost per trial is for trials ``factors`` times as long as these
    (a study's real trials train for tens of seconds to minutes, these for a few)."""
    extra, direct = result["extra_s"], result["direct_s"]
    shares = ", ".join(f"{extra / (direct * k) * 100:.1f} % of a {k}x longer one" for k in factors)
    return (
        f"fixed cost {extra:.3f} s per trial (median tune - direct; the trials here train "
        f"for {direct:.2f} s): {shares}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=3000, help="Rotten Tomatoes reviews")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--params", type=int, default=3, help="parameter sets")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="600 rows, 2 epochs, 2x2 runs")
    parser.add_argument(
        "--template", action="store_true", help="the text-cnn template's model (the study's)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.epochs, args.params, args.repeats = 600, 2, 2, 2
    env = environment()
    print_environment(env)
    result = run(args)
    print_table(
        "Optuna integration overhead per trial (median of repeats)",
        ["params", "direct (s)", "tune (s)", "tune / direct", "tune - direct (s)"],
        [
            [
                ", ".join(f"{k.split('.')[-1]}={v:.3g}" for k, v in r["params"].items()),
                f"{r['direct_s']:.3f}",
                f"{r['tune_s']:.3f}",
                f"{r['ratio']:.3f}",
                f"{r['extra_s']:.3f}",
            ]
            for r in result["rows"]
        ],
    )
    verdict = "met" if result["overhead_pct"] <= 5 else "missed"
    console.print(
        f"median ratio {result['median_ratio']:.3f}: overhead {result['overhead_pct']:+.1f} % "
        f"per trial (goal <= 5 %: {verdict})"
    )
    console.print(longer_trials(result))
    if args.json is not None:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        write_json(args.json, {"environment": env, "args": settings, **result})


if __name__ == "__main__":
    main()
