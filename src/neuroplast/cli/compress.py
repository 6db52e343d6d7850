"""``neuroplast compress``: quantize, prune or distill a registered model, with one table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from neuroplast.cli._common import (
    MODEL_HELP,
    HomeOption,
    JsonOption,
    console,
    print_json,
    print_task_result,
    setup_logging,
    status,
)
from neuroplast.cli._compress_table import NameWatch, print_compression_table, print_warnings
from neuroplast.errors import ConfigError
from neuroplast.tasks import TaskResult

if TYPE_CHECKING:
    from neuroplast.compression.optimizer import CompressOutcome


def _student(path: Path | None) -> dict[str, object] | None:
    if path is None:
        return None
    import yaml

    if not path.is_file():
        raise ConfigError(f"student config {path} not found")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping with 'architecture' (or a model section)")
    return loaded


QuantizeOption = Annotated[
    str | None,
    typer.Option("--quantize", help="int8: dynamic (Linear, LSTM) or static (image CNN / MLP)."),
]

PruneOption = Annotated[
    float | None,
    typer.Option("--prune", help="Share of the weights to prune by magnitude, e.g. 0.5."),
]

StructuredOption = Annotated[
    bool,
    typer.Option("--structured", help="Prune whole channels / rows instead of single weights."),
]

FinetuneEpochsOption = Annotated[
    int,
    typer.Option(
        "--finetune-epochs", min=0, help="Fine-tune after pruning (pruned weights stay 0)."
    ),
]

DistillFromOption = Annotated[
    str | None,
    typer.Option(
        "--distill-from", help="Teacher model: train MODEL's architecture on its soft labels."
    ),
]

StudentConfigOption = Annotated[
    Path | None,
    typer.Option("--student-config", help="YAML with the student's architecture and options."),
]

TemperatureOption = Annotated[
    float,
    typer.Option("--temperature", help="Distillation: softmax temperature T (> 0) of both models."),
]

AlphaOption = Annotated[
    float,
    typer.Option(
        "--alpha", help="Distillation: weight of the soft labels, 1 - alpha on hard labels."
    ),
]

AllTechniquesOption = Annotated[
    bool,
    typer.Option("--all", help="Every technique that applies, in one table."),
]

TestLimitOption = Annotated[
    int | None,
    typer.Option("--test-limit", min=10, help="Measure on at most this many test inputs."),
]

IfBetterOption = Annotated[
    bool,
    typer.Option(
        "--if-better",
        help="Register only results smaller (by 1 % or more) or faster (beyond the measured "
        "spread, at batch 1 or 64) than MODEL that lose at most --max-accuracy-drop.",
    ),
]

MaxAccuracyDropOption = Annotated[
    float,
    typer.Option(
        "--max-accuracy-drop",
        min=0.0,
        max=1.0,
        help="Test accuracy a result may lose and still count as better (0.01 = one point).",
    ),
]


def compress(
    model: str = typer.Argument(..., help=MODEL_HELP),
    quantize: QuantizeOption = None,
    prune: PruneOption = None,
    structured: StructuredOption = False,
    finetune_epochs: FinetuneEpochsOption = 0,
    distill_from: DistillFromOption = None,
    student_config: StudentConfigOption = None,
    epochs: int = typer.Option(3, "--epochs", min=1, help="Distillation epochs (both students)."),
    temperature: TemperatureOption = 4.0,
    alpha: AlphaOption = 0.7,
    all_techniques: AllTechniquesOption = False,
    test_limit: TestLimitOption = None,
    if_better: IfBetterOption = False,
    max_accuracy_drop: MaxAccuracyDropOption = 0.01,
    json_output: JsonOption = False,
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Compress a model: each technique becomes a new version (parent: MODEL), one table.

    A warning follows any result that is not faster than MODEL at any measured batch size,
    or that loses more accuracy than --max-accuracy-drop, and a table whose timings vary by
    more than 25 % between repeats (a busy machine).

    With --json, stdout holds one JSON object: command ("compress"), parent (a ref),
    if_better, max_accuracy_drop, rows (one object per table row, the parent first),
    registered (the new refs), warnings and notes (lists of strings). Row keys: technique,
    backend, size_mb, size_ratio, latency_p50_ms, latency_q1_ms, latency_q3_ms,
    latency_spread_ms, latency_speedup, throughput_per_s, throughput_q1_per_s,
    throughput_q3_per_s, throughput_spread_per_s, throughput_speedup, batch_size, repeats,
    accuracy, accuracy_change, f1_macro, f1_change, samples, status ("parent",
    "registered", "not registered" or "compared"), version (a NAME:VERSION ref or null) and
    reason (why it was not registered, or null). Latency is ms per input at batch 1,
    throughput inputs per second at batch_size: medians of interleaved repeats, q1 / q3
    their quartiles, spread half the interquartile range.
    """
    setup_logging(verbose)
    from neuroplast.engine import Engine

    with Engine(home) as engine, status(json_output, f"compressing {model}..."):
        watch = NameWatch(engine.registry, model)
        outcome = engine.compress(
            model,
            quantize=quantize,
            prune=prune,
            structured=structured,
            finetune_epochs=finetune_epochs,
            distill_from=distill_from,
            student_config=_student(student_config),
            epochs=epochs,
            all_techniques=all_techniques,
            temperature=temperature,
            alpha=alpha,
            if_better=if_better,
            max_accuracy_drop=max_accuracy_drop,
            test_limit=test_limit,
        )
        watch.check()
    _print_outcome(outcome, watch, json_output)


def _print_outcome(
    outcome: CompressOutcome | TaskResult, watch: NameWatch, json_output: bool
) -> None:
    if isinstance(outcome, TaskResult):  # anomaly detection, forecasting, generation
        print_task_result(outcome, json_output)
        return
    if json_output:
        print_json(watch.document(outcome.to_dict()))
        return
    rows = outcome.to_dict()["rows"]
    print_compression_table(console, f"compression of {outcome.parent.ref}", rows)
    print_warnings(console, outcome.warnings, watch.notes(outcome.notes))
    for v in outcome.versions:
        technique = v.config.get("compression", {}).get("technique", v.source)
        console.print(f"registered {v.ref} (id {v.uid}, {technique}, parent {outcome.parent.ref})")
    if not outcome.versions:
        console.print(f"nothing registered: no result is better than {outcome.parent.ref}")
