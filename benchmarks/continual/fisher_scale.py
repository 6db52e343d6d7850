"""How big task 1's Fisher is after a short and a long training, by estimator.

Split MNIST task-IL, MLP 2x400, Adam lr 1e-3, batch 128, seed 0: train task 1 for 35 and for
504 Adam steps, then take the trace of its diagonal Fisher on 500 training images with the
argmax label, a label sampled from p, the exact expected Fisher, the former expected Fisher
(classes with p < 1e-4 skipped), and the squared gradient of batch means (128 rows). About
30 s::

    .venv/bin/python benchmarks/continual/fisher_scale.py
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroplast.continual.config import ContinualConfig
from neuroplast.continual.learner import ContinualLearner, apply_mask
from neuroplast.continual.runner import build_model
from neuroplast.continual.sources import make_stream
from neuroplast.continual.strategies import fisher_information
from neuroplast.models import logits_of


def trace(fisher: dict[str, Tensor]) -> float:
    return sum(float(v.double().sum()) for v in fisher.values())


def per_class_terms(model: nn.Module, x: Tensor, mask: Tensor) -> tuple[float, float]:
    """(former expected Fisher with p < 1e-4 skipped, Fisher of one sampled label)."""
    params = list(model.parameters())
    skipped = sampled = 0.0
    generator = torch.Generator().manual_seed(0)
    for i in range(len(x)):
        log_p = F.log_softmax(apply_mask(logits_of(model(x[i : i + 1])), mask), 1)[0]
        p = log_p.detach().exp()
        drawn = int(torch.multinomial(p, 1, generator=generator))
        for c in mask.nonzero().flatten().tolist():
            grads = torch.autograd.grad(log_p[c], params, retain_graph=True)
            square = sum(float((g**2).sum()) for g in grads)
            skipped += float(p[c]) * square if p[c] >= 1e-4 else 0.0
            sampled += square if c == drawn else 0.0
    return skipped / len(x), sampled / len(x)


def batch_mean(model: nn.Module, x: Tensor, mask: Tensor) -> float:
    params, total, batches = list(model.parameters()), 0.0, 0
    for i in range(0, len(x) - 127, 128):
        log_p = F.log_softmax(apply_mask(logits_of(model(x[i : i + 128])), mask), 1)
        loss = log_p.gather(1, log_p.argmax(1, keepdim=True)).mean()
        total += sum(float((g**2).sum()) for g in torch.autograd.grad(loss, params))
        batches += 1
    return total / batches


def main() -> None:
    torch.set_num_threads(1)
    for epochs in (5, 72):  # 7 steps an epoch over task 1's 800 images
        config = ContinualConfig.model_validate(
            {
                "stream": {"source": "split_mnist", "scenario": "task"},
                "model": {"architecture": "image_mlp", "hidden_dim": 400, "dropout": 0.0},
                "train": {"epochs": epochs},
            }
        )
        stream = make_stream(config.stream)
        model, _ = build_model(stream, config.model, 0)
        learner = ContinualLearner(model, stream, config.train, [], seed=0)
        learner.fit_task(0)
        model.eval()
        x, mask = stream.tasks[0].x_train[:500], stream.output_mask(0)
        with torch.no_grad():
            p = torch.softmax(apply_mask(logits_of(model(x)), mask), 1).max(1).values
        skipped, sampled = per_class_terms(model, x, mask)
        rows = {
            "argmax": trace(fisher_information(model, [x], mask=mask, labels="argmax")),
            "sampled": sampled,
            "expected": trace(fisher_information(model, [x], mask=mask, labels="expected")),
            "expected, p < 1e-4 skipped": skipped,
            "batch mean": batch_mean(model, x, mask),
        }
        print(
            f"{learner.steps[0]} steps, mean "
            f"1 - p {float((1 - p).mean()):.1e}: "
            + "; ".join(f"{k} {v:.2e}" for k, v in rows.items()),
            flush=True,
        )


if __name__ == "__main__":
    main()
