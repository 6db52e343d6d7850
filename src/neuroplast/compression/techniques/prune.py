"""``prune``: magnitude pruning of a share of the weights (unstructured, or whole
filters / rows with ``structured``), optionally fine-tuned on the model's own data with the
pruned weights held at zero (:mod:`neuroplast.compression.prune`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.compression._registry import (
    CompressionTechnique,
    CompressJob,
    TechniqueOptions,
    register_technique,
)
from neuroplast.compression.candidate import (
    Candidate,
    fit,
    run_config_of,
    state_bytes,
    with_model,
)
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.config import TrainConfig
    from neuroplast.data.prepare import PreparedData
    from neuroplast.inference.bundle import LoadedModel

__all__ = ["Prune", "PruneOptions", "prune_candidate"]

NO_DATA_NOTE = "pruned without fine-tuning: the model has no recorded data config to train on"


class PruneOptions(TechniqueOptions):
    #: The share of the weights set to zero (``--all`` prunes half).
    amount: float = 0.5
    #: Whole filters / rows instead of single weights.
    structured: bool = False
    #: Epochs of fine-tuning after pruning (None: under ``--all`` one epoch when the model
    #: has its own data, else none).
    finetune_epochs: int | None = None


def prune_candidate(
    loaded: LoadedModel,
    amount: float,
    *,
    structured: bool = False,
    finetune_epochs: int = 0,
    data: PreparedData | None = None,
    train: TrainConfig | None = None,
) -> Candidate:
    from neuroplast.compression.prune import KeepPruned, prune_copy, sparsity
    from neuroplast.inference.predictor import Predictor

    pruned, masks = prune_copy(loaded.model, amount, structured=structured)
    if finetune_epochs > 0:
        if data is None or train is None:
            raise ConfigError(
                f"fine-tuning after pruning trains on the model's own data, and "
                f"{loaded.meta.name or 'this model'} was trained through the Python API (no "
                "recorded data or train config): prune with finetune_epochs=0, or train it "
                "from a run config (Engine.train) so that its data can be re-created"
            )
        lr = train.optimizer.lr * 0.1
        config = train.model_copy(
            update={
                "epochs": finetune_epochs,
                "optimizer": train.optimizer.model_copy(update={"lr": lr}),
            }
        )
        min_length = int(loaded.meta.preprocessing.get("min_length", 1))
        fit(pruned, data, config, min_length=min_length, callbacks=[KeepPruned(pruned, masks)])
    pruned.eval()
    zeros = sparsity(pruned, masks)
    kind = "structured" if structured else "unstructured"
    return Candidate(
        technique=f"pruned {amount:.0%} {kind}"
        + (f" +{finetune_epochs} ep" if finetune_epochs else ""),
        model=pruned,
        predictor=Predictor(with_model(loaded, pruned)),
        size_bytes=state_bytes(pruned),
        options={
            "prune_amount": amount,
            "structured": structured,
            "finetune_epochs": finetune_epochs,
            "sparsity": round(zeros, 4),
        },
        metrics={"sparsity": round(zeros, 4)},
    )


@register_technique("prune", rank=3, options=PruneOptions, help="magnitude pruning")
class Prune(CompressionTechnique):
    @staticmethod
    def _partial(job: CompressJob) -> str | None:
        """Why pruning cannot apply: a version trained with ``finetune: head`` or ``lora``
        keeps its pretrained base frozen (and a MiniLM one stores only what trained)."""
        mode = getattr(getattr(job.loaded.model, "config", None), "finetune", None)
        if mode not in ("head", "lora"):
            return None
        return (
            f"--prune does not apply to {job.loaded.meta.architecture} versions trained with "
            f"finetune: {mode}: only the {'LoRA adapters and ' if mode == 'lora' else ''}head "
            "trained, over frozen pretrained base weights that pruning would zero and the "
            "version does not own; prune a finetune: full version, or compress this one with "
            "--quantize dynamic (or export-onnx --int8)"
        )

    def skipped(self, job: CompressJob, options: PruneOptions) -> str | None:
        reason = self._partial(job)
        return None if reason is None else f"prune skipped: {reason}"

    def candidates(self, job: CompressJob, options: PruneOptions) -> list[Candidate]:
        reason = self._partial(job)
        if reason is not None:
            raise ConfigError(reason)
        epochs = options.finetune_epochs
        if epochs is None:
            epochs = 1 if job.all_techniques and job.data is not None else 0
            if job.all_techniques and job.data is None:
                job.notes.append(NO_DATA_NOTE)
        train = run_config_of(job.version.config).train if epochs and job.data is not None else None
        candidate = prune_candidate(
            job.loaded,
            options.amount,
            structured=options.structured,
            finetune_epochs=epochs,
            data=job.data,
            train=train,
        )
        return [candidate]
