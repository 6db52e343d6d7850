"""Why windows of unchanged traffic alarm: each drift test's false-alarm rate under the null.

The scenarios and models of ``bench_drift.py`` (``--home`` reuses its trained models); only
the no-shift inputs are used. For each scenario, ``--trials`` windows of ``--window`` inputs
are drawn from the stream's pool, and every test of ``neuroplast monitor`` runs on each, in
three set-ups that separate the causes:

- ``fixed REF``: against one stored reference (what ``monitor`` and ``bench_drift`` do):
  the rate given THIS reference sample (Rotten Tomatoes: the version's val split, its test
  split, and both together);
- ``fresh``: a new reference of the same size is drawn from the same pool as the window on
  every trial: the test's calibration averaged over references, i.e. whether the test
  itself is right under the null;

each with the feature projection fitted on the reference alone (``PCA ref``, the old
default) or on the reference and the window together (``PCA pooled``). Plus the spread of
the rate given one reference over ``--references`` fresh references (the dependence between
windows that share a reference), a large-sample test of each stored reference against the
whole pool (is the reference's split another distribution than the stream's?), and ADWIN's
alarms on no-shift streams of 20 windows with 20 % feedback.

    flock /tmp/s3/heavy.lock .venv/bin/python benchmarks/drift_calibration.py --home DIR
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _common import console, environment, print_environment, print_table, write_json
from bench_drift import Scenario, fmnist_scenarios, rt_scenario
from neuroplast.engine import Engine
from neuroplast.monitoring import (
    ChiSquareTest,
    InputFeatures,
    KSTest,
    ProjectedKSTest,
    Reference,
    StreamingAccuracy,
    load_or_build_reference,
)


def _draw(pool: InputFeatures, idx: np.ndarray) -> InputFeatures:
    return InputFeatures(
        pool.features[idx],
        pool.probabilities[idx],
        {k: v[idx] for k, v in pool.statistics.items()},
    )


def _p_values(
    reference: InputFeatures, window: InputFeatures, *, fit_on: str, classes: int
) -> dict[str, float]:
    """Each test's p-value (the tests of ``run_windows``)."""
    out = {
        "features": ProjectedKSTest("f", alpha=0.5, fit_on=fit_on)  # type: ignore[arg-type]
        .test(reference.features, window.features)
        .p_value,
        "class mix": ChiSquareTest("mix", classes, alpha=0.5)
        .test(reference.predicted, window.predicted)
        .p_value,
        "confidence": KSTest("c", alpha=0.5).test(reference.confidence, window.confidence).p_value,
    }
    for name in sorted(reference.statistics):
        test = KSTest(name, alpha=0.5)
        out[name] = test.test(reference.statistics[name], window.statistics[name]).p_value
    return {k: float(v) for k, v in out.items() if v is not None}


def trials(
    pool: InputFeatures,
    reference: InputFeatures | int,
    *,
    fit_on: str,
    classes: int,
    window: int,
    count: int,
    seed: int,
) -> list[dict[str, float]]:
    """Raw p-values of each test on ``count`` no-shift windows drawn from ``pool``, against
    ``reference`` (or, given a size, a fresh reference drawn from the pool each time)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        idx = rng.permutation(len(pool.features))
        win = _draw(pool, idx[:window])
        ref = (
            reference
            if isinstance(reference, InputFeatures)
            else _draw(pool, idx[window : window + reference])
        )
        out.append(_p_values(ref, win, fit_on=fit_on, classes=classes))
    return out


def per_reference_rates(
    pool: InputFeatures,
    size: int,
    *,
    classes: int,
    window: int,
    references: int,
    count: int,
    alpha: float,
    seed: int,
) -> list[float]:
    """The window false-alarm rate given one reference of ``size``, for fresh ones."""
    rng = np.random.default_rng(seed)
    rates = []
    for _ in range(references):
        idx = rng.permutation(len(pool.features))
        ref, rest = _draw(pool, idx[:size]), idx[size:]
        alarms = []
        for _ in range(count):
            win = _draw(pool, rng.choice(rest, window, replace=False))
            p = _p_values(ref, win, fit_on="pooled", classes=classes)
            alarms.append(min(p.values()) < alpha / len(p))
        rates.append(float(np.mean(alarms)))
    return rates


def adwin_rate(scenario: Scenario, *, window: int, windows: int, streams: int, seed: int) -> float:
    """Share of no-shift windows in which ADWIN alarms (20 % feedback, in stream order)."""
    rng = np.random.default_rng(seed)
    correct = scenario.normal.inputs.predicted == scenario.normal.labels
    alarms = 0
    for _ in range(streams):
        detector = StreamingAccuracy()
        flags = correct[rng.choice(len(correct), windows * window, replace=False)]
        for w in range(windows):
            chunk = flags[w * window : (w + 1) * window]
            given = chunk[rng.random(window) < 0.2]
            alarms += detector.test(None, given.tolist()).alarm
    return alarms / (streams * windows)


def _rates(rows: list[dict[str, float]], alpha: float) -> dict[str, float]:
    level = alpha / len(rows[0])
    out = {name: float(np.mean([r[name] < level for r in rows])) for name in rows[0]}
    out["window"] = float(np.mean([min(r.values()) < level for r in rows]))
    return out


def _joined(a: Reference, b: Reference) -> Reference:
    inputs = InputFeatures(
        np.concatenate([a.inputs.features, b.inputs.features]),
        np.concatenate([a.inputs.probabilities, b.inputs.probabilities]),
        {k: np.concatenate([v, b.inputs.statistics[k]]) for k, v in a.inputs.statistics.items()},
    )
    return Reference(
        f"{a.split}+{b.split}",
        a.version,
        a.label_names,
        np.concatenate([a.labels, b.labels]),
        inputs,
    )


def _references(engine: Engine, scenario: Scenario) -> dict[str, Reference]:
    """The scenario's references, train left out; Rotten Tomatoes adds test and val+test."""
    refs = {k: v for k, v in scenario.references.items() if k != "train"}
    if "val" in refs:
        from neuroplast.inference.registered import load_registered
        from neuroplast.monitoring import FeatureExtractor

        version, loaded = load_registered(engine.registry, refs["val"].version)
        test = load_or_build_reference(engine.registry, version, FeatureExtractor(loaded), "test")
        refs |= {"test": test, "val+test": _joined(refs["val"], test)}
    return refs


def study(engine: Engine, scenario: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    pool = scenario.normal.inputs
    refs = _references(engine, scenario)
    first = next(iter(refs.values()))
    classes = len(first.label_names)
    common = {"classes": classes, "window": args.window, "count": args.trials, "seed": 1}
    setups: dict[str, dict[str, float]] = {}
    for fit_on in ("reference", "pooled"):
        label = "PCA ref" if fit_on == "reference" else "PCA pooled"
        for name, ref in refs.items():
            if fit_on == "reference" and ref is not first:
                continue  # the old default, on the first reference only
            rows = trials(pool, ref.inputs, fit_on=fit_on, **common)
            setups[f"fixed {name} ({ref.size}), {label}"] = _rates(rows, args.alpha)
        rows = trials(pool, first.size, fit_on=fit_on, **common)
        setups[f"fresh ({first.size}), {label}"] = _rates(rows, args.alpha)
        console.print(scenario.name, fit_on, setups)
    versus = {
        name: _p_values(ref.inputs, pool, fit_on="pooled", classes=classes)
        for name, ref in refs.items()
    }
    spread = {
        size: per_reference_rates(
            pool,
            size,
            classes=classes,
            window=args.window,
            references=args.references,
            count=max(20, args.trials // 10),
            alpha=args.alpha,
            seed=2,
        )
        for size in sorted({r.size for r in refs.values()})
    }
    adwin = adwin_rate(scenario, window=args.window, windows=20, streams=50, seed=3)
    return {"setups": setups, "reference_vs_pool": versus, "per_reference": spread, "adwin": adwin}


def _report(name: str, res: dict[str, Any], args: argparse.Namespace) -> None:
    setups = res["setups"]
    tests = list(next(iter(setups.values())))
    print_table(
        f"{name}: share of {args.trials} no-shift windows of {args.window} in which each test "
        f"alarms at alpha {args.alpha} / {len(tests) - 1} (window: any test)",
        ["set-up", *tests],
        [[k, *(f"{v:.3f}" for v in r.values())] for k, r in setups.items()],
    )
    for ref, p in res["reference_vs_pool"].items():
        console.print(
            f"{name}: {ref} reference vs the whole pool, p-values:",
            {k: round(v, 4) for k, v in p.items()},
        )
    for size, rates in res["per_reference"].items():
        r = np.array(rates)
        console.print(
            f"{name}: window false-alarm rate given one fresh reference of {size} "
            f"({len(r)} references): mean {r.mean():.3f}, median {np.median(r):.3f}, "
            f"max {r.max():.3f}, share over {args.alpha}: {(r > args.alpha).mean():.2f}"
        )
    console.print(f"{name}: ADWIN alarms in {res['adwin']:.3%} of no-shift windows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="bench_drift's registry")
    parser.add_argument("--window", type=int, default=250)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--references", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--skip", choices=["rt", "fmnist"], action="append", default=[])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = environment()
    print_environment(env)
    started = time.perf_counter()
    out: dict[str, Any] = {}
    with Engine(args.home) as engine:
        scenarios: list[Scenario] = []
        if "rt" not in args.skip:
            scenarios.append(rt_scenario(engine, limit=6000, epochs=4))
        if "fmnist" not in args.skip:
            scenarios.append(fmnist_scenarios(engine, limit=16000, epochs=2)[0])
        for scenario in scenarios:
            name = scenario.name.split(" (")[0]
            out[name] = study(engine, scenario, args)
            _report(name, out[name], args)
    console.print(f"{time.perf_counter() - started:.0f} s")
    if args.json:
        settings = {k: str(v) for k, v in vars(args).items()}
        write_json(args.json, {"environment": env, "args": settings, "results": out})


if __name__ == "__main__":
    main()
