"""Where the neuromorphic learner's forgetting comes from, and how its prototype settings
were chosen (issue 18). Both parts read the study's encoded concepts (``study.py --parts
encode`` first) and answer by nearest prototype (the spiking recall answers the same on
these memories, see the study's table):

- ``validation``: each task's training rows split 80 / 20 (seeded); every candidate
  setting learns the 80 % and is scored on the 20 %, never on the test rows.
- ``decompose``: after the last task, each old task's test accuracy (a) right after it was
  learnt, (b) now, (c) now with the answer restricted to the classes seen at that time.
  (a) - (c) is what changed in memory (prototypes evicted, merged or moved; the whitening
  statistics); (c) - (b) is interference: new classes taking old classes' inputs.
- ``stdp``: the spiking learner with and without reward-modulated STDP, task by task: the
  recurrent weights, how often the recall's winner is not the nearest prototype, and the
  share of answers going to each task's classes.

    .venv/bin/python benchmarks/neuromorphic/diagnose.py --stream mnist --part decompose
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import study
import torch

from neuroplast.continual.neuromorphic.learner import NeuromorphicLearner, relative
from neuroplast.continual.neuromorphic.stream_run import TaskConcepts
from neuroplast.continual.sources import make_stream


def candidates(text: bool) -> dict[str, dict[str, Any]]:
    means = {"similarity": "whitened", "momentum": 0.999, "mean_warmup": True,
             "similarity_threshold": -1.0, "split_variance": 4.0}  # fmt: skip
    return {
        "cosine-500": study.cosine_500_settings(text)["prototype_manager"],
        "cosine class means": {**means, "similarity": "cosine"},
        "whitened class means, shrinkage 0.1": means,
        "whitened class means, shrinkage 0.5": {**means, "whitening_shrinkage": 0.5},
        "whitened class means, shrinkage 0.02": {**means, "whitening_shrinkage": 0.02},
        "whitened, new prototype below 0.7": {**means, "similarity_threshold": 0.7},
    }


def _metrics(matrix: list[list[float]]) -> tuple[float, float]:
    t = len(matrix)
    acc = sum(matrix[-1]) / t
    forgetting = sum(
        max(matrix[k][j] for k in range(j, t - 1)) - matrix[-1][j] for j in range(t - 1)
    ) / max(1, t - 1)
    return acc, forgetting


def _accuracy(learner: NeuromorphicLearner, x: torch.Tensor, y: torch.Tensor,
              allowed: list[int] | None = None) -> float:  # fmt: skip
    return float((learner.score_concepts(x, allowed=allowed).labels == y).float().mean())


def _run(learner: NeuromorphicLearner, tasks: list[TaskConcepts]) -> list[list[float]]:
    matrix = []
    for task in tasks:
        learner.fit_concepts(task.train, task.y_train)
        matrix.append([_accuracy(learner, t.test, t.y_test) for t in tasks])
    return matrix


def validation(name: str, cache: Path) -> None:
    cfg = study.continual_config(name)
    stream = make_stream(cfg.stream)
    tasks, _ = study.concepts_of(name, stream, cfg, cache)
    g = torch.Generator().manual_seed(123)
    val = []
    for t in tasks:
        order = torch.randperm(len(t.y_train), generator=g)
        k = len(order) // 5
        tr, va = order[k:], order[:k]
        val.append(TaskConcepts(t.classes, t.train[tr], t.y_train[tr], t.train[va], t.y_train[va]))
    for label, pm in candidates(stream.modality == "text").items():
        lcfg = study.learner_config(stream, cfg, {"prototype_manager": pm})
        learner = NeuromorphicLearner(lcfg, class_names=stream.label_names, spiking=False)
        acc, forgetting = _metrics(_run(learner, val))
        print(json.dumps({"stream": name, "setting": label, "val_acc": round(acc, 4),
                          "val_forgetting": round(forgetting, 4),
                          "prototypes": learner.num_prototypes}))  # fmt: skip


def decompose(name: str, cache: Path, setting: str) -> None:
    cfg = study.continual_config(name)
    stream = make_stream(cfg.stream)
    tasks, _ = study.concepts_of(name, stream, cfg, cache)
    overrides = study.cosine_500(stream) if setting == "cosine-500" else {}
    lcfg = study.learner_config(stream, cfg, overrides)
    learner = NeuromorphicLearner(lcfg, class_names=stream.label_names, spiking=False)
    matrix = _run(learner, tasks)
    seen = [[c for u in tasks[: j + 1] for c in u.classes] for j in range(len(tasks))]
    restricted = [
        _accuracy(learner, t.test, t.y_test, allowed=seen[j]) for j, t in enumerate(tasks[:-1])
    ]
    acc, forgetting = _metrics(matrix)
    old = range(len(tasks) - 1)
    memory = sum(matrix[j][j] - restricted[j] for j in old) / len(old)
    interference = sum(restricted[j] - matrix[-1][j] for j in old) / len(old)
    labels = learner.prototype_labels().tolist()
    print(json.dumps({
        "stream": name, "setting": setting, "acc": round(acc, 4),
        "forgetting": round(forgetting, 4),
        "drop_from_memory_change": round(memory, 4),
        "drop_from_new_classes": round(interference, 4),
        "right_after": [round(matrix[j][j], 3) for j in range(len(tasks))],
        "now_restricted": [round(v, 3) for v in restricted],
        "now": [round(v, 3) for v in matrix[-1]],
        "prototypes_per_class": [labels.count(c) for c in range(len(stream.label_names))],
    }))  # fmt: skip


def _trace(learner: NeuromorphicLearner, tasks: list[TaskConcepts], i: int) -> dict[str, Any]:
    """After task ``i``: accuracy of the recall and of the nearest prototype on the tasks
    seen, where they disagree, the recurrent weights, the answers' share per task."""
    x = torch.cat([u.test for u in tasks[: i + 1]])
    y = torch.cat([u.y_test for u in tasks[: i + 1]])
    sims = learner.similarities(x)
    labels = learner.prototype_labels()
    nearest = labels[sims.argmax(1)]
    winner = labels[(learner.attractor.run(relative(sims)).rates + 1e-3 * sims).argmax(1)]
    task_of = {c: k for k, u in enumerate(tasks) for c in u.classes}

    def share(answers: torch.Tensor) -> list[float]:
        counts = torch.bincount(torch.tensor([task_of[int(c)] for c in answers]), minlength=i + 1)
        return [round(float(v), 3) for v in counts[: i + 1] / len(answers)]

    w = learner.attractor.weights
    return {
        "task": i, "acc_recall": round(float((winner == y).float().mean()), 4),
        "acc_nearest": round(float((nearest == y).float().mean()), 4),
        "winner_not_nearest": round(float((winner != nearest).float().mean()), 4),
        "self_weights": [round(float(v), 3) for v in w.diagonal()],
        "assembly_labels": labels.tolist(),
        "answers_per_task_recall": share(winner), "answers_per_task_nearest": share(nearest),
    }  # fmt: skip


def stdp(name: str, cache: Path, seed: int = 0) -> None:
    cfg = study.continual_config(name)
    stream = make_stream(cfg.stream)
    tasks, _ = study.concepts_of(name, stream, cfg, cache)
    for variant, overrides in (("stdp-on", study.STDP_ON), ("stdp-off", {})):
        lcfg = study.learner_config(stream, cfg, overrides)
        learner = NeuromorphicLearner(lcfg, class_names=stream.label_names, seed=seed)
        for i, task in enumerate(tasks):
            learner.fit_concepts(task.train, task.y_train)
            print(json.dumps({"stream": name, "part": "stdp", "variant": variant, "seed": seed,
                              **_trace(learner, tasks, i)}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stream", choices=sorted(study.STREAMS), default="mnist")
    parser.add_argument("--part", choices=["validation", "decompose", "stdp"], default="decompose")
    parser.add_argument("--setting", choices=["default", "cosine-500"], default="default")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/neuroplast-neuro-cache"))
    parser.add_argument("--image-size", type=int, help="EfficientNet-Lite0's input side")
    args = parser.parse_args()
    study.set_image_size(args.image_size)
    if args.part == "validation":
        validation(args.stream, args.cache)
    elif args.part == "stdp":
        stdp(args.stream, args.cache)
    else:
        decompose(args.stream, args.cache, args.setting)


if __name__ == "__main__":
    main()
