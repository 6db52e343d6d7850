"""Issue 18's abstention check: the last task's classes are withheld from training; how many
of their inputs does the learner abstain on while it answers the known classes' inputs?

Every rule is calibrated on held-out training rows of the known classes only (the
composer's ``answer_rate: 0.9``): nothing of the withheld classes is seen before the test.
Rules (``composer.abstain_on``): the answer's confidence; minus the Mahalanobis distance to
the nearest prototype (``distance``); that distance less the one to the mean of all data
(``relative_distance``). The rule a stream should use is picked without the withheld
classes too (``select``): train on the known tasks but the last one, and read each score's
AUROC with that task's *training* rows as the pseudo-unknown. Uses the concepts cached by
``study.py --parts encode``::

    .venv/bin/python benchmarks/neuromorphic/openset.py --stream fmnist --seeds 0,1,2
    .venv/bin/python benchmarks/neuromorphic/openset.py --table \\
        --plot docs/evidence/neuromorphic/risk-coverage.png
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import study
import torch
from torch import Tensor

from neuroplast.continual.neuromorphic.learner import NeuromorphicLearner
from neuroplast.continual.neuromorphic.stream_run import IMAGE_SIZE
from neuroplast.continual.sources import make_stream

OUT = Path(__file__).with_name("openset.jsonl")
RULES = ("confidence", "distance", "relative_distance")
ANSWER_RATE = 0.9


def auroc(known: Tensor, unknown: Tensor) -> float:
    """P(a known input's support > an unknown one's), ties counted half."""
    scores = torch.cat([known, unknown]).double()
    ranks = torch.empty(len(scores), dtype=torch.float64)
    order = torch.argsort(scores, stable=True)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    for value in torch.unique(scores[order]):  # average ranks over ties
        tie = scores == value
        ranks[tie] = ranks[tie].mean()
    n_k, n_u = len(known), len(unknown)
    return float((ranks[:n_k].sum() - n_k * (n_k + 1) / 2) / (n_k * n_u))


def _learner(stream: Any, cfg: Any, rule: str, seed: int, tasks: list[Any]) -> NeuromorphicLearner:
    overrides = {"composer": {"abstain_on": rule, "answer_rate": ANSWER_RATE}}
    # the distances do not depend on the recall (nor do the answers: with STDP off the
    # winner-take-all recall picks the nearest prototype), so only confidence recalls
    learner = NeuromorphicLearner(study.learner_config(stream, cfg, overrides),
                                  class_names=stream.label_names, seed=seed,
                                  spiking=rule == "confidence")  # fmt: skip
    for t in tasks:
        learner.fit_concepts(t.train, t.y_train)
    return learner


def _held(learner: NeuromorphicLearner) -> Tensor:
    """Support of the held-out known rows the learner calibrated on."""
    return learner.calibration[:, 0]


def rows_for(name: str, seed: int) -> list[dict[str, Any]]:
    cfg = study.continual_config(name)
    stream = make_stream(cfg.stream)
    tasks, _ = study.concepts_of(name, stream, cfg, study_cache())
    known, withheld = tasks[:-1], tasks[-1]
    known_x = torch.cat([t.test for t in known])
    known_y = torch.cat([t.y_test for t in known])
    rows = []
    for rule in RULES:
        pseudo = _learner(stream, cfg, rule, seed, known[:-1])
        select_auroc = auroc(_held(pseudo), pseudo.score_concepts(known[-1].train).support)
        learner = _learner(stream, cfg, rule, seed, known)
        k = learner.score_concepts(known_x)
        u = learner.score_concepts(withheld.test)
        answered = ~k.abstained
        rows.append({
            "stream": name, "rule": rule, "seed": seed,
            **study.tags(stream, cfg), "threshold": learner.threshold,
            "select_auroc": select_auroc, "auroc": auroc(k.support, u.support),
            "known_answered": float(answered.float().mean()),
            "known_risk": float((k.labels != known_y)[answered].float().mean()),
            "unknown_abstained": float(u.abstained.float().mean()),
            "held_rows": len(learner.calibration), "memory_bytes": learner.memory_bytes(),
            "known_support": k.support.tolist(), "known_correct": (k.labels == known_y).tolist(),
            "unknown_support": u.support.tolist(),
        })  # fmt: skip
        print(json.dumps({k_: v for k_, v in rows[-1].items() if "support" not in k_
                          and k_ != "known_correct"}), flush=True)  # fmt: skip
    return rows


def study_cache() -> Path:
    return Path(ARGS.cache)


def open_set_curve(row: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Coverage and risk over known + withheld test inputs, answering the most supported
    first; a withheld input answered is always an error (its class was never learnt)."""
    support = torch.tensor(row["known_support"] + row["unknown_support"])
    right = torch.tensor(row["known_correct"] + [False] * len(row["unknown_support"]))
    order = torch.argsort(support, descending=True, stable=True)
    errors = torch.cumsum((~right[order]).double(), 0)
    n = torch.arange(1, len(order) + 1, dtype=torch.float64)
    step = max(1, len(order) // 200)
    return (n / len(order))[::step].tolist(), (errors / n)[::step].tolist()


def _load() -> list[dict[str, Any]]:
    if not OUT.is_file():
        return []
    return [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()]


def _label(name: str, size: int | None, length: str | None = "class_mean") -> str:
    label = f"{name} {size} px" if size else name
    return label + (", unit length" if length == "unit" else "")


def table() -> None:
    rows = _load()
    print("| stream | rule | select AUROC | AUROC | known answered % | withheld abstained % "
          "| known risk % | seeds |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    keys = sorted({(r["stream"], study.size_of(r) or 0, study.length_of(r)) for r in rows},
                  key=lambda k: (("mnist", "fmnist", "wordnet").index(k[0]), k[1:]))  # fmt: skip
    for name, size, length in keys:
        for rule in RULES:
            key = (name, size, length, rule)
            mine = [
                r
                for r in rows
                if (r["stream"], study.size_of(r) or 0, study.length_of(r), r["rule"]) == key
            ]
            if not mine:
                continue

            def f(key: str, scale: float = 100.0, rs: list[dict[str, Any]] = mine) -> str:
                v = [scale * r[key] for r in rs]
                sd = f" ± {statistics.stdev(v):.1f}" if len(v) > 1 else ""
                return f"{statistics.mean(v):.1f}{sd}" if scale > 1 else f"{statistics.mean(v):.3f}"

            print(f"| {_label(name, size, length)} | {rule} | {f('select_auroc', 1.0)} | "
                  f"{f('auroc', 1.0)} | "
                  f"{f('known_answered')} | {f('unknown_abstained')} | {f('known_risk')} | "
                  f"{len(mine)} |")  # fmt: skip


def plot(png: Path) -> None:
    from neuroplast.evaluation.plots import figure_bytes, pyplot

    plt: Any = pyplot()
    rows = [
        r
        for r in _load()
        if r["seed"] == 0
        and study.size_of(r) in (None, ARGS.image_size)
        and study.length_of(r) == "class_mean"
    ]
    streams = [s for s in ("mnist", "fmnist", "wordnet") if any(r["stream"] == s for r in rows)]
    fig, axes = plt.subplots(1, len(streams), figsize=(4.2 * len(streams), 3.6), squeeze=False)
    for ax, name in zip(axes[0], streams, strict=True):
        for row in (r for r in rows if r["stream"] == name):
            coverage, risk = open_set_curve(row)
            ax.plot(coverage, risk, label=f"{row['rule']} (AUROC {row['auroc']:.2f})")
        size = ARGS.image_size if name != "wordnet" else None
        ax.set_title(f"{_label(name, size)}: last task withheld (seed 0)", fontsize=9)
        ax.set_xlabel("coverage of known + withheld test inputs")
        ax.set_ylabel("risk (withheld answered = error)")
        ax.set_xlim(0, 1)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(figure_bytes(fig))
    print(f"wrote {png}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", choices=sorted(study.STREAMS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--cache", default="/tmp/neuroplast-neuro-cache")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--image-size", type=int, default=IMAGE_SIZE,
                        help="EfficientNet-Lite0's input side on image streams")  # fmt: skip
    global ARGS
    ARGS = parser.parse_args()
    torch.set_num_threads(1)
    study.set_image_size(ARGS.image_size)
    if ARGS.stream:
        size = None if ARGS.stream == "wordnet" else ARGS.image_size
        done = {(r["stream"], r["seed"], study.size_of(r), study.length_of(r)) for r in _load()}
        for seed in (int(s) for s in ARGS.seeds.split(",")):
            if (ARGS.stream, seed, size, "class_mean") in done:
                continue
            rows = rows_for(ARGS.stream, seed)
            with OUT.open("a", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
    if ARGS.table:
        table()
    if ARGS.plot:
        plot(ARGS.plot)


ARGS = argparse.Namespace(cache="/tmp/neuroplast-neuro-cache", image_size=None)

if __name__ == "__main__":
    main()
