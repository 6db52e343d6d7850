"""``neuroplast neuro``: the neuromorphic continual learner (issue 18) -- write a config,
train it over a class-incremental stream, evaluate, answer with abstention and evidence,
plot. Seed 003's console scripts (``neuromorphic-train``, ``neuromorphic-eval``,
``neuromorphic-infer``) run the same functions under the seed's command names."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from neuroplast.cli._common import (
    MODEL_HELP,
    HomeOption,
    JsonOption,
    console,
    fail,
    print_json,
    setup_logging,
)
from neuroplast.errors import ConfigError, NeuroplastError

__all__ = ["app", "eval_app", "eval_main", "infer_app", "infer_main", "train_app", "train_main"]

app = typer.Typer(
    help="Neuromorphic continual learner: concept prototypes recalled by a spiking memory.",
    no_args_is_help=True,
)
train_app = typer.Typer(help="Train a neuromorphic learner (alias of `neuroplast neuro`).")
eval_app = typer.Typer(help="Evaluate and plot a neuromorphic learner (alias).")
infer_app = typer.Typer(help="Answers of a neuromorphic learner (alias).")


def _registry(home: Path | None) -> Any:
    from neuroplast.engine import Engine

    return Engine(home)


def init(
    template: str = typer.Option("text", "--template", "-t", help="text | image (basic = image)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
) -> None:
    """Print a learner config YAML (seed 003's section names) to edit and train."""
    from neuroplast.continual.neuromorphic.run_config import template_text

    text = template_text(template)
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.exists():
        raise ConfigError(f"{output} exists; choose another --output or remove it")
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")


def train(
    config: Path | None = typer.Argument(None, help="Learner YAML (neuroplast neuro init)."),
    config_opt: Path | None = typer.Option(None, "--config", "-c", help="The same, as an option."),
    set_: list[str] = typer.Option([], "--set", help="Override a value: --set seeds=[0,1]."),
    register: bool = typer.Option(True, "--register/--no-register", help="Register the learner."),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Learn the stream task by task over the config's seeds; print the accuracy matrix and
    ACC/BWT/FWT/forgetting; register the first seed's learner as a version.

    ``--json``: ``{stream, version, metrics}`` (metrics as fractions; version null with
    --no-register).
    """
    setup_logging(verbose)
    from neuroplast.continual.neuromorphic.run_config import load_neuro_config
    from neuroplast.continual.neuromorphic.workflow import run_metrics, train_learner

    path = config or config_opt
    if path is None:
        raise ConfigError("name the learner config: `neuro train neuro.yaml` (or --config)")
    cfg = load_neuro_config(path, list(set_))

    def progress(seed: int, task: int, row: list[float]) -> None:
        line = f"seed {seed} task {task + 1}: " + " ".join(f"{100 * a:.0f}" for a in row)
        typer.echo(line, err=as_json) if as_json else console.print(line)

    with _registry(home) as engine:
        outcome = train_learner(cfg, engine.registry if register else None, on_task=progress)
    metrics = run_metrics(outcome.runs)
    version = outcome.version
    if as_json:
        summary = None if version is None else version.summary()
        print_json({"stream": outcome.stream.name, "version": summary, "metrics": metrics})
        return
    _print_metrics(metrics, outcome.stream.name)
    if version is not None:
        console.print(f"registered [bold]{version.ref}[/] (id {version.uid})")


def _print_metrics(metrics: dict[str, Any], stream: str) -> None:
    from neuroplast.cli._continual_tables import matrix_table

    console.print(matrix_table(metrics["accuracy_matrix"], f"accuracy % on {stream}, class-IL"))
    cells = []
    for key in ("acc", "bwt", "fwt", "forgetting"):
        value = metrics[key]
        name = key if key == "forgetting" else key.upper()
        cells.append(f"{name} {'-' if value is None else f'{100 * value:.1f}'}")
    console.print("  ".join(cells))
    console.print(
        f"prototypes {metrics['prototypes']}  memory {metrics['memory_bytes']:,} bytes  "
        f"coverage {100 * metrics['coverage']:.1f}%  risk {100 * metrics['risk']:.1f}%  "
        f"spikes/input {metrics['spikes_per_input']:.0f}  train {metrics['train_seconds']:.1f} s"
    )


def evaluate(
    model: str | None = typer.Argument(None, help=MODEL_HELP),
    checkpoint: str | None = typer.Option(None, "--checkpoint", help="The model, as an option."),
    out: Path = typer.Option(Path("results"), "--out", "--output-dir", help="Results folder."),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Evaluate a learner on its stream's test rows; write OUT/evaluation.json (accuracy
    matrix, ACC/BWT/FWT/forgetting, coverage and risk, memory bytes, spikes/synops).

    ``--json``: the evaluation document itself.
    """
    setup_logging(verbose)
    from neuroplast.continual.neuromorphic.evaluate import evaluate_version

    ref = model or checkpoint
    if ref is None:
        raise ConfigError("name the learner: `neuro evaluate MODEL --out results/`")
    with _registry(home) as engine:
        document, path = evaluate_version(engine.registry, ref, out)
    if as_json:
        print_json(document)
        return
    console.print(
        f"{document['model']}: accuracy {100 * document['accuracy']:.1f}% on "
        f"{document['test_inputs']} test inputs; coverage {100 * document['coverage']:.1f}% at "
        f"risk {100 * document['risk']:.1f}%; {document['memory_bytes']:,} bytes; "
        f"{document['spikes_per_input']:.0f} spikes and {document['synops_per_input']:.0f} "
        f"synops per input (dense: {document['dense_macs_per_input']:,} MACs)"
    )
    console.print(f"wrote {path}")


def analyze(
    results: Path | None = typer.Argument(None, help="Folder of evaluation.json (or the file)."),
    results_file: Path | None = typer.Option(None, "--results-file", help="The same, as option."),
    out: Path | None = typer.Option(None, "--out", "--output-dir", help="Plots folder."),
) -> None:
    """Plot an evaluation: accuracy matrix, prototype statistics, spike raster and the
    risk-coverage curve (PNG)."""
    from neuroplast.continual.neuromorphic.analyze import analyze_results

    source = results or results_file
    if source is None:
        raise ConfigError("name the results: `neuro analyze results/`")
    for name, path in analyze_results(source, out).items():
        console.print(f"plot {name}: {path}")


def infer(
    model: str | None = typer.Argument(None, help=MODEL_HELP),
    texts: list[str] = typer.Argument(None, help="Texts to answer (text learners)."),
    checkpoint: str | None = typer.Option(None, "--checkpoint", help="The model, as an option."),
    inputs: list[Path] = typer.Option([], "--input", "-i", help="An image file (repeatable)."),
    input_dir: Path | None = typer.Option(None, "--input-dir", help="A folder of images."),
    output_dir: Path | None = typer.Option(
        None, "--output-dir", help="Also write the answers to OUTPUT_DIR/answers.jsonl."
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Answer texts or images: label, confidence, abstained, evidence (the nearest
    prototypes, their similarities and the refs of their stored examples).

    ``--json``: a list of ``{input, label, confidence, abstained, probabilities, evidence}``.
    """
    setup_logging(verbose)
    from neuroplast.continual.neuromorphic.infer import image_files
    from neuroplast.continual.neuromorphic.infer import infer as run_infer

    ref = model or checkpoint
    if ref is None:
        raise ConfigError('name the learner: `neuro infer MODEL "text"` or --input image.png')
    paths = image_files(inputs, input_dir) if inputs or input_dir else []
    with _registry(home) as engine:
        answers = run_infer(engine.registry, ref, texts=list(texts or []), paths=paths)
    if output_dir is not None:
        _write_answers(answers, output_dir)
    if as_json:
        print_json(answers)
        return
    for a in answers:
        label = "(abstains)" if a["abstained"] else a["label"]
        console.print(f"{a['input']}\t{label}\tconfidence {a['confidence']:.3f}")
        for e in a.get("evidence") or []:
            console.print(f"    {_evidence_line(e)}")


def _evidence_line(item: dict[str, Any]) -> str:
    """``prototype 14 (noun.animal) activity 0.40 similarity 0.35: "a furry ..." | ...``."""
    similarity = item.get("similarity")
    head = f"prototype {item['prototype']} ({item['label']}) activity {item['activity']:.2f}" + (
        "" if similarity is None else f" similarity {similarity:.2f}"
    )
    shown = [str(e.get("input") or f"ref {e.get('ref')}")[:60] for e in item.get("examples", [])]
    return head + (": " + " | ".join(shown) if shown else "")


def _write_answers(answers: list[dict[str, Any]], folder: Path) -> None:
    import json

    from neuroplast.registry.artifacts import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(a, default=str) + "\n" for a in answers)
    atomic_write_bytes(folder / "answers.jsonl", lines.encode("utf-8"))


def generate_config(
    template: str = typer.Option("basic", "--template", "-t", help="basic | text | image."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
) -> None:
    """Print a learner config YAML (alias of `neuroplast neuro init`)."""
    init(template, output)


app.command("init")(init)
app.command("train")(train)
app.command("evaluate")(evaluate)
app.command("infer")(infer)
app.command("analyze")(analyze)
train_app.command("train")(train)
train_app.command("generate-config")(generate_config)
eval_app.command("evaluate")(evaluate)
eval_app.command("analyze-results")(analyze)
infer_app.command("infer")(infer)
infer_app.command("batch-infer")(infer)


def _run(alias: typer.Typer, name: str) -> None:
    """An alias's console entry: errors as one line and an exit code, as ``neuroplast``."""
    try:
        code = alias(prog_name=name, standalone_mode=False)
    except NeuroplastError as e:
        code = fail(e).exit_code
    except typer.Exit as e:
        code = e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = 130
    except Exception as e:  # Click's usage errors, matched by name as neuroplast.cli does
        if not any(c.__name__ == "ClickException" for c in type(e).__mro__):
            raise
        message = " ".join(str(e.format_message()).split())  # type: ignore[attr-defined]
        typer.echo(f"error: {message} (see `{name} --help`)", err=True)
        code = int(getattr(e, "exit_code", 2))
    raise SystemExit(code if isinstance(code, int) else 0)


def train_main() -> None:
    """``neuromorphic-train train --config neuro.yaml`` / ``generate-config``."""
    _run(train_app, "neuromorphic-train")


def eval_main() -> None:
    """``neuromorphic-eval evaluate MODEL --output-dir results/`` / ``analyze-results``."""
    _run(eval_app, "neuromorphic-eval")


def infer_main() -> None:
    """``neuromorphic-infer infer MODEL ...`` / ``batch-infer MODEL --input-dir images/``."""
    _run(infer_app, "neuromorphic-infer")
