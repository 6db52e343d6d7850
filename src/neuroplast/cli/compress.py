"""``neuroplast compress``: quantize, prune or distill a registered model, with one table."""

from __future__ import annotations

from pathlib import Path

import typer

from neuroplast.cli._common import HomeOption, console, setup_logging
from neuroplast.cli._compress_table import print_compression_table
from neuroplast.errors import ConfigError


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


def compress(
    model: str = typer.Argument(..., help="Model name (newest version), NAME:VERSION or id."),
    quantize: str | None = typer.Option(
        None, "--quantize", help="int8: dynamic (Linear, LSTM) or static (image CNN / MLP)."
    ),
    prune: float | None = typer.Option(
        None, "--prune", help="Share of the weights to prune by magnitude, e.g. 0.5."
    ),
    structured: bool = typer.Option(
        False, "--structured", help="Prune whole channels / rows instead of single weights."
    ),
    finetune_epochs: int = typer.Option(
        0, "--finetune-epochs", min=0, help="Fine-tune after pruning (pruned weights stay 0)."
    ),
    distill_from: str | None = typer.Option(
        None, "--distill-from", help="Teacher model: train MODEL's architecture on its soft labels."
    ),
    student_config: Path | None = typer.Option(
        None, "--student-config", help="YAML with the student's architecture and options."
    ),
    epochs: int = typer.Option(3, "--epochs", min=1, help="Distillation epochs (both students)."),
    temperature: float = typer.Option(
        4.0, "--temperature", help="Distillation: softmax temperature T (> 0) of both models."
    ),
    alpha: float = typer.Option(
        0.7, "--alpha", help="Distillation: weight of the soft labels, 1 - alpha on hard labels."
    ),
    all_techniques: bool = typer.Option(
        False, "--all", help="Every technique that applies, in one table."
    ),
    test_limit: int | None = typer.Option(
        None, "--test-limit", min=10, help="Measure on at most this many test inputs."
    ),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Compress a model: each technique becomes a new version (parent: MODEL), one table."""
    setup_logging(verbose)
    from neuroplast.compression.optimizer import ModelOptimizer
    from neuroplast.registry import Registry

    with Registry(home) as registry, console.status(f"compressing {model}..."):
        outcome = ModelOptimizer(registry, test_limit=test_limit).compress(
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
        )
    print_compression_table(console, f"compression of {outcome.parent.ref}", outcome.table)
    for note in outcome.notes:
        console.print(note)
    for v in outcome.versions:
        technique = v.config.get("compression", {}).get("technique", v.source)
        console.print(f"registered {v.ref} (id {v.uid}, {technique}, parent {outcome.parent.ref})")
