"""Classification metrics of a model over a data loader, computed with torchmetrics."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_auroc,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

from neuroplast.errors import DataError
from neuroplast.models import logits_of

__all__ = ["EvalResult", "collect_probabilities", "evaluate_model", "metrics_from_probabilities"]


@dataclass
class EvalResult:
    """Every number of one evaluation; ``per_class`` maps a label name to its P/R/F1/support."""

    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    f1_weighted: float
    precision_weighted: float
    recall_weighted: float
    roc_auc: float | None
    loss: float | None
    samples: int
    confusion_matrix: list[list[int]]
    label_names: list[str]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def headline(self) -> dict[str, float | None]:
        """The scalar metrics, for tables and version summaries."""
        keys = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted")
        out: dict[str, float | None] = {k: getattr(self, k) for k in keys}
        out["roc_auc"] = self.roc_auc
        out["loss"] = self.loss
        return out


@torch.inference_mode()
def collect_probabilities(
    model: nn.Module, loader: Iterable[Any], device: torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """Softmax probabilities and targets of ``model`` over ``loader`` (on the CPU)."""
    was_training = model.training
    model.eval()
    probs, targets = [], []
    for batch in loader:
        inputs, y = batch[0], batch[1]
        if device is not None and device.type != "cpu":
            inputs = inputs.to(device)
        logits = logits_of(model(inputs)).float()
        probs.append(F.softmax(logits, dim=1).cpu())
        targets.append(y.long().cpu())
    model.train(was_training)
    if not probs:
        raise DataError("nothing to evaluate: the evaluation split is empty")
    return torch.cat(probs), torch.cat(targets)


def metrics_from_probabilities(
    probs: Tensor, targets: Tensor, label_names: Sequence[str]
) -> EvalResult:
    """All metrics from class probabilities [N, K] and integer targets [N]."""
    k = probs.shape[1]
    if len(label_names) != k:
        raise DataError(f"the model has {k} classes but {len(label_names)} label names were given")
    if targets.numel() and int(targets.max()) >= k:
        raise DataError(
            f"labels go up to {int(targets.max())} but the model knows {k} classes "
            f"({', '.join(label_names)}); evaluate on data with the same label set"
        )
    args: dict[str, Any] = {"num_classes": k}
    present = torch.unique(targets).numel()
    auroc = (
        float(multiclass_auroc(probs, targets, average="macro", **args)) if present == k else None
    )
    loss = float(F.nll_loss(torch.log(probs.clamp_min(1e-12)), targets))
    precision = multiclass_precision(probs, targets, average="none", **args)
    recall = multiclass_recall(probs, targets, average="none", **args)
    f1 = multiclass_f1_score(probs, targets, average="none", **args)
    support = torch.bincount(targets, minlength=k)
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(label_names)
    }
    return EvalResult(
        accuracy=float(multiclass_accuracy(probs, targets, average="micro", **args)),
        precision_macro=float(multiclass_precision(probs, targets, average="macro", **args)),
        recall_macro=float(multiclass_recall(probs, targets, average="macro", **args)),
        f1_macro=float(multiclass_f1_score(probs, targets, average="macro", **args)),
        f1_weighted=float(multiclass_f1_score(probs, targets, average="weighted", **args)),
        precision_weighted=float(multiclass_precision(probs, targets, average="weighted", **args)),
        recall_weighted=float(multiclass_recall(probs, targets, average="weighted", **args)),
        roc_auc=auroc,
        loss=loss,
        samples=int(targets.numel()),
        confusion_matrix=multiclass_confusion_matrix(probs, targets, **args).tolist(),
        label_names=list(label_names),
        per_class=per_class,
    )


def evaluate_model(
    model: nn.Module,
    loader: Iterable[Any],
    label_names: Sequence[str],
    device: torch.device | None = None,
) -> EvalResult:
    """Evaluate ``model`` on every batch of ``loader``."""
    probs, targets = collect_probabilities(model, loader, device)
    return metrics_from_probabilities(probs, targets, label_names)
