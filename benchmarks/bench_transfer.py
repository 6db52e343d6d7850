"""Transfer learning on few images: EfficientNet-Lite0 (frozen, ImageNet) vs the image-cnn
template trained from scratch, on the same 1,000 Fashion-MNIST images (issue 16).

Per seed, 100 training images a class are drawn from Fashion-MNIST's 60,000 training images
(90 train + 10 validation a class). Both models are built from their templates
(``neuroplast init --template image-efficientnet`` / ``image-cnn``) and trained by neuroplast's
Trainer on exactly those images; each is scored on the full official test set (10,000).

- ``efficientnet-lite0`` ``finetune: head``: the template as shipped (30 epochs at most, early
  stopping on validation loss). Its epoch times show the feature cache: epoch 1 runs the
  backbone on every image; later epochs read the cached features.
- ``image-cnn``: the template as shipped (8 epochs), and the same with a longer budget
  (``--cnn-epochs``, early stopping patience 8), so the baseline is not cut short on 900 images.

Test accuracy of the transfer model: the frozen backbone's test features come from one ONNX
Runtime pass over the 10,000 images (shared by the seeds; the head is each seed's own),
checked against the eager model on ``PARITY`` test images (max abs logit difference,
reported). Everything runs on 2 CPU threads.

    .venv/bin/python benchmarks/bench_transfer.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from _common import environment, print_environment, print_table, write_json
from neuroplast.config import parse_run_config
from neuroplast.data import load_builtin
from neuroplast.data.torch_data import image_loader
from neuroplast.models import create_model
from neuroplast.training import Trainer

THREADS = 2
PARITY = 256
EFF = "efficientnet-lite0"


def draw(labels: np.ndarray, pool: np.ndarray, per_class: int, seed: int) -> tuple[Any, Any]:
    """``per_class`` rows a class from ``pool``: 90 % train, 10 % validation (per class)."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    n_val = max(1, per_class // 10)
    for c in np.unique(labels):
        rows = rng.choice(pool[labels[pool] == c], size=per_class, replace=False)
        val.extend(rows[:n_val])
        train.extend(rows[n_val:])
    return np.sort(np.asarray(train)), np.sort(np.asarray(val))


def template(name: str) -> Any:
    text = resources.files("neuroplast").joinpath(f"templates/{name}.yaml").read_text("utf-8")
    return parse_run_config(yaml.safe_load(text), where=name)


def fit(
    model: nn.Module, cfg: Any, images: np.ndarray, labels: np.ndarray, split: Any
) -> tuple[Trainer, float]:
    train, val = split
    tr = image_loader(images[train], labels[train], batch_size=cfg.batch_size, shuffle=True)
    va = image_loader(images[val], labels[val], batch_size=cfg.eval_batch_size, shuffle=False)
    trainer = Trainer(cfg)
    started = time.perf_counter()
    trainer.fit(model, tr, va)
    trainer.load_best_weights(model)
    return trainer, time.perf_counter() - started


@torch.inference_mode()
def eager_logits(model: nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    model.eval()
    loader = image_loader(images, None, batch_size=batch, shuffle=False)
    return torch.cat([model(x) for x, _ in loader]).numpy()


def onnx_features(model: Any, images: np.ndarray, path: str) -> np.ndarray:
    """The frozen stages' outputs for ``images`` through ONNX Runtime."""
    import onnxruntime as ort

    class Backbone(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net.run_stages(x, 0, self.net.frozen_stages)

    net = Backbone().eval()
    example = torch.zeros(2, *images.shape[1:])
    torch.onnx.export(
        net, (example,), path, input_names=["x"], output_names=["f"],
        dynamic_axes={"x": {0: "b"}, "f": {0: "b"}}, opset_version=17, dynamo=False,
    )  # fmt: skip
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    loader = image_loader(images, None, batch_size=64, shuffle=False)
    return np.concatenate([session.run(None, {"x": x.numpy()})[0] for x, _ in loader])


def run_transfer(data: Any, split: Any, seed: int, args: Any) -> dict[str, Any]:
    run = template("image-efficientnet")
    options = {k: v for k, v in run.model.items() if k != "architecture"}
    if args.finetune == "blocks":
        options.update(finetune="blocks", trainable_blocks=args.trainable_blocks)
    quick = args.quick
    epochs = 3 if quick else (args.epochs or run.train.epochs)
    cfg = run.train.model_copy(update={"seed": seed, "epochs": epochs})
    torch.manual_seed(seed)
    model: Any = create_model(EFF, {**options, "num_classes": 10, "image_size": 28})
    trainer, seconds = fit(model, cfg, data.images, data.labels, split)
    epochs = [m.seconds for m in trainer.history]
    later = epochs[1:]
    return {
        "model": model,
        "train_seconds": seconds,
        "epochs": len(epochs),
        "epoch1_seconds": epochs[0],
        "later_epoch_seconds_median": float(np.median(later)) if later else None,
        "cache": model.feature_cache.stats() if model.feature_cache is not None else {},
    }


def run_cnn(data: Any, split: Any, seed: int, epochs: int | None) -> dict[str, Any]:
    run = template("image-cnn")
    options = {k: v for k, v in run.model.items() if k != "architecture"}
    update: dict[str, Any] = {"seed": seed}
    if epochs is not None:
        update["epochs"] = epochs
        update["early_stopping"] = run.train.early_stopping.model_copy(update={"patience": 8})
    cfg = run.train.model_copy(update=update)
    torch.manual_seed(seed)
    model = create_model("image_cnn", {**options, "num_classes": 10})
    trainer, seconds = fit(model, cfg, data.images, data.labels, split)
    test = data.test_mask
    acc = float((eager_logits(model, data.images[test]).argmax(1) == data.labels[test]).mean())
    return {"accuracy": acc, "train_seconds": seconds, "epochs": len(trainer.history)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--cnn-epochs", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="3 epochs, 500 test images")
    parser.add_argument("--finetune", choices=["head", "blocks"], default="head")
    parser.add_argument("--trainable-blocks", type=int, default=2)
    parser.add_argument("--no-cnn", action="store_true", help="only the transfer model")
    parser.add_argument("--epochs", type=int, help="transfer epochs (default: the template's)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    env = environment()
    print_environment(env)

    data = load_builtin("fashion_mnist")
    test_rows = np.flatnonzero(data.test_mask)
    if args.quick:
        test_rows = test_rows[:500]
    pool = np.flatnonzero(~data.test_mask)
    test_x, test_y = data.images[test_rows], data.labels[test_rows]
    results: dict[str, Any] = {"environment": env, "per_class": args.per_class, "seeds": {}}
    results["finetune"] = args.finetune
    if args.finetune == "blocks":
        results["trainable_blocks"] = args.trainable_blocks
    features = None
    for seed in args.seeds:
        split = draw(data.labels, pool, args.per_class, seed)
        tr = run_transfer(data, split, seed, args)
        model = tr.pop("model")
        if features is None:
            started = time.perf_counter()
            features = onnx_features(model, test_x, "/tmp/bench_transfer_backbone.onnx")
            results["onnx_test_features_seconds"] = time.perf_counter() - started
        with torch.inference_mode():
            model.eval()
            pooled = model.run_stages(torch.from_numpy(features), model.frozen_stages, 19)
            logits = model.classifier(pooled).numpy()
            eager = eager_logits(model, test_x[:PARITY])
        tr["parity_max_abs_logit_diff"] = float(np.abs(eager - logits[:PARITY]).max())
        tr["accuracy"] = float((logits.argmax(1) == test_y).mean())
        results["seeds"][seed] = {"transfer": tr}
        if not args.no_cnn:
            results["seeds"][seed]["cnn_template"] = run_cnn(
                data, split, seed, 3 if args.quick else None
            )
            results["seeds"][seed]["cnn_long"] = run_cnn(
                data, split, seed, 3 if args.quick else args.cnn_epochs
            )
        print(seed, {k: round(v["accuracy"], 4) for k, v in results["seeds"][seed].items()})
        print("   transfer", {k: v for k, v in tr.items() if k != "accuracy"}, flush=True)

    if not args.no_cnn:
        report(results, len(test_rows))
    if args.json:
        write_json(Path(args.json), results)


def report(results: dict[str, Any], n_test: int) -> None:
    seeds = results["seeds"]
    rows = []
    for key, label in (("transfer", "EfficientNet-Lite0 head"), ("cnn_template", "image-cnn"),
                       ("cnn_long", "image-cnn, longer")):  # fmt: skip
        accs = [s[key]["accuracy"] for s in seeds.values()]
        secs = [s[key]["train_seconds"] for s in seeds.values()]
        rows.append([label, f"{np.mean(accs):.4f}", " ".join(f"{a:.4f}" for a in accs),
                     f"{np.mean(secs):.1f}"])  # fmt: skip
    best = {
        k: max(s["cnn_template"]["accuracy"], s["cnn_long"]["accuracy"]) for k, s in seeds.items()
    }
    gaps = [s["transfer"]["accuracy"] - best[k] for k, s in seeds.items()]
    results["gap_points_vs_best_cnn"] = [100 * g for g in gaps]
    print_table(
        f"test accuracy on {n_test} Fashion-MNIST test images, {results['per_class']} training "
        "images a class",
        ["model", "mean", "per seed", "train s (mean)"],
        rows,
    )
    print("gap vs the better CNN, points per seed:", [f"{100 * g:+.2f}" for g in gaps])


if __name__ == "__main__":
    main()
