"""``neuroplast evaluate``: metrics of a registered model on a split or another file."""

from __future__ import annotations

import typer

from neuroplast.cli._common import (
    MODEL_HELP,
    HomeOption,
    JsonOption,
    console,
    print_json,
    print_task_result,
    setup_logging,
)
from neuroplast.cli._tables import print_results
from neuroplast.cli._vision import print_vision_analyses, vision_analyses
from neuroplast.inference import backends_help


def evaluate(
    model: str = typer.Argument(..., help=MODEL_HELP),
    split: str = typer.Option("test", "--split", help="train | val | test of the model's data."),
    data: str | None = typer.Option(
        None, "--data", help="A labelled CSV / JSONL / Parquet file or image folder instead."
    ),
    backend: str = typer.Option(
        "torch", "--backend", help=f"Predictor backend: {backends_help()}."
    ),
    errors: str | None = typer.Option(
        None,
        "--errors",
        help="Image models: write the most confident mistakes per class pair, with GradCAM "
        "(CNN) or attention rollout (ViT) beside each, to this HTML file (PNG beside it).",
    ),
    robustness: bool = typer.Option(
        False,
        "--robustness",
        help="Image models: accuracy under FGSM / PGD (L-inf epsilons in [0, 1] pixel space) "
        "and noise, blur, contrast corruptions; HTML + PNG + JSON stored with the evaluation.",
    ),
    robustness_samples: int = typer.Option(
        500, "--robustness-samples", min=1, help="Images of the split that --robustness attacks."
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Accuracy, precision, recall, F1, ROC AUC, loss, per class, next to the TF-IDF baseline.

    ``--json``: ``{version, split, data_source, backend, metrics, per_class, baseline, note,
    plots}`` (``metrics`` and ``baseline`` hold accuracy, precision/recall/F1 macro and
    weighted, roc_auc, loss, samples; ``baseline`` is null where there is none), plus
    ``errors`` / ``robustness`` with those options (docs/vision.md).

    Anomaly detection, forecasting and generation models get their task's own metrics beside
    its baselines (docs/anomaly.md, docs/forecasting.md); ``--json`` is then the task's
    document ``{version, ..., metrics, baselines}``.
    """
    setup_logging(verbose)
    from neuroplast.engine import Engine
    from neuroplast.tasks import TaskResult

    with Engine(home) as engine, console.status(f"evaluating {model}..."):
        report = engine.evaluate(model, split=split, data=data, backend=backend)
    if isinstance(report, TaskResult):  # anomaly detection, forecasting, generation
        print_task_result(report, as_json)
        return
    v = report.version
    extra = vision_analyses(v.ref, split, errors, robustness, robustness_samples, home)
    if as_json:
        r, b = report.result, report.baseline
        print_json(
            {
                **extra,
                "version": v.ref,
                "split": report.split,
                "data_source": report.data_source,
                "backend": backend,
                "metrics": {**r.headline(), "samples": r.samples},
                "per_class": r.per_class,
                "baseline": None if b is None else {**b.headline(), "samples": b.samples},
                "note": report.note or None,
                "plots": report.plots,
            }
        )
        return
    title = f"{v.ref} on {report.split} ({report.data_source}, {backend} backend)"
    print_results(console, title, report.result, report.baseline, v.architecture)
    if report.note:
        console.print(report.note)
    for name, path in report.plots.items():
        console.print(f"plot {name}: {path}")
    print_vision_analyses(console, extra)
