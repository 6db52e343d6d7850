"""``neuroplast explain``: why a model predicts what it predicts, and whether to believe it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from neuroplast.cli._common import MODEL_HELP, HomeOption, console, setup_logging
from neuroplast.errors import ConfigError, DataError
from neuroplast.explain import methods_help

if TYPE_CHECKING:
    from neuroplast.explain import ImageExplainer, TextExplainer
    from neuroplast.inference import LoadedModel

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _test_split(loaded: LoadedModel, ref: str) -> Any:
    from neuroplast.config import DataConfig
    from neuroplast.data.prepare import prepare

    if not loaded.meta.data:
        raise ConfigError(
            f"{ref} was trained on data neuroplast did not load, so it has no test split to "
            "check on; pass inputs with --file FILE"
        )
    return prepare(DataConfig.model_validate(loaded.meta.data), vocab=loaded.vocab)


def _image_paths(items: list[str], file: Path | None) -> list[Path]:
    paths = [Path(p) for p in items]
    if file is not None:
        if file.is_dir():
            paths += sorted(p for p in file.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)
        else:
            paths.append(file)
    return paths


def _text_faithfulness(
    explainer: TextExplainer,
    loaded: LoadedModel,
    ref: str,
    texts: list[str],
    method: str | None,
    n: int,
    k: int,
) -> Any:
    from neuroplast.explain import completeness_table, deletion_table, select_texts, text_checks

    if not texts:
        texts = _test_split(loaded, ref).texts("test")
    ids = select_texts(explainer, texts, n, min_tokens=k + 1)
    methods = [method] if method else list(explainer.methods)
    checks = text_checks(explainer, ids, methods=methods, k=k)
    title = (
        f"Deletion test of {ref} ({loaded.meta.architecture}) on {len(ids)} texts: mean drop of "
        f"the predicted-class probability, top {k} tokens deleted vs {k} random tokens"
    )
    console.print(deletion_table(checks.deletion, title=title))
    if checks.completeness is not None:
        console.print(
            completeness_table(
                checks.completeness,
                title="Completeness of integrated gradients: sum of scores vs f(x) - f(PAD)",
            )
        )
    return checks


def _explain_texts(
    explainer: TextExplainer,
    texts: list[str],
    method: str,
    target: str | None,
    top_k: int,
    as_json: bool,
    title: str,
) -> list[Any]:
    from neuroplast.explain import explanation_view

    explanations = explainer.explain(texts, method=method, target=target)
    if not as_json:
        console.print(Text(f"{title}, method {method}", style="bold"))
    for e in explanations:
        if as_json:
            row = {
                "text": e.text,
                "predicted": e.predicted_label,
                "target": e.target_label,
                "probability": round(e.probability, 6),
                "method": e.method,
                "tokens": e.tokens,
                "scores": [round(float(s), 6) for s in e.scores],
                "completeness_error": e.relative_delta,
            }
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            console.print(explanation_view(e, top_k=top_k))
    return explanations


def _explain_images(
    explainer: ImageExplainer,
    paths: list[Path],
    method: str,
    target: str | None,
    out: Path | None,
    as_json: bool,
) -> list[Any]:
    from rich.table import Table

    from neuroplast.explain import save_overlay
    from neuroplast.inference import load_image_files

    channels, size, _ = explainer.image_shape
    images = load_image_files(paths, channels=channels, size=size)
    explanations = explainer.explain(
        images, method=method, target=target, sources=[str(p) for p in paths]
    )
    table = Table(title=f"{method} heat maps")
    for name in ("image", "predicted", "explained class", "probability", "heat on object"):
        table.add_column(name)
    if out is not None:
        table.add_column("overlay")
    for i, e in enumerate(explanations):
        cells = [
            e.source,
            e.predicted_label,
            e.target_label,
            f"{e.probability:.4f}",
            f"{100 * e.heat_on_object():.1f} %",
        ]
        if out is not None:
            path = (
                out if len(explanations) == 1 else out.with_name(f"{out.stem}-{i + 1}{out.suffix}")
            )
            cells.append(str(save_overlay(path, e)))
        table.add_row(*cells)
        if as_json:
            row: dict[str, Any] = {
                "image": e.source,
                "predicted": e.predicted_label,
                "target": e.target_label,
                "probability": round(e.probability, 6),
                "method": e.method,
                "heat_on_object": round(e.heat_on_object(), 6),
            }
            if out is not None:
                row["overlay"] = cells[5]
            typer.echo(json.dumps(row, ensure_ascii=False))
    if not as_json:
        console.print(table)
    return explanations


def explain(
    model: str = typer.Argument(..., help=MODEL_HELP),
    inputs: list[str] = typer.Argument(None, help="Texts, or image files for image models."),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="CSV / JSONL / Parquet (text column), .txt, or image folder."
    ),
    text_column: str = typer.Option("text", "--text-column", help="Column of --file to read."),
    method: str | None = typer.Option(
        None,
        "--method",
        "-m",
        help=f"Texts (default ig): {methods_help('text')}. "
        f"Images (default gradcam): {methods_help('image')}.",
    ),
    target: str | None = typer.Option(
        None, "--target", help="Class (index or label) to explain; default: the predicted one."
    ),
    top_k: int = typer.Option(5, "--top-k", "-k", help="Top tokens listed per text."),
    html: Path | None = typer.Option(None, "--html", help="Also write a self-contained report."),
    out: Path | None = typer.Option(None, "--out", "-o", help="PNG overlay (image models)."),
    faithfulness: bool = typer.Option(
        False, "--faithfulness", help="Measure how faithful each method is (test split)."
    ),
    n: int = typer.Option(200, "--n", help="Inputs for --faithfulness."),
    deleted: int = typer.Option(3, "--deleted", help="Tokens deleted in the deletion test."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of coloured text."),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Explain a registered model's predictions (tokens, attention, GradCAM) and check them."""
    setup_logging(verbose)
    from neuroplast.cli.predict import _texts_from_file
    from neuroplast.engine import Engine
    from neuroplast.explain import (
        ImageExplainer,
        TextExplainer,
        gradcam_check,
        heat_table,
        html_report,
        save_html,
    )

    if n < 1 or deleted < 1:
        raise ConfigError("--n and --deleted must be at least 1")
    items = list(inputs or [])
    with Engine(home) as engine:
        loaded = engine.model_manager.get_loaded(model)
    ref = f"{loaded.meta.name}:{loaded.meta.version}" if loaded.meta.name else model
    arch = loaded.meta.architecture
    report: dict[str, Any] = {}
    if loaded.meta.modality == "text":
        if out is not None:
            raise ConfigError("--out writes image overlays; for a text model use --html FILE")
        text_explainer = TextExplainer(loaded)
        chosen = method or "ig"
        text_explainer.check_method(chosen)
        from_file = _texts_from_file(file, text_column) if file is not None else []
        # With --faithfulness, --file feeds the checks; otherwise it adds texts to explain.
        explained = items if faithfulness else items + from_file
        if not explained and not faithfulness:
            raise DataError("nothing to explain: give texts as arguments or --file FILE")
        if explained:
            report["texts"] = _explain_texts(
                text_explainer, explained, chosen, target, top_k, as_json, f"{ref} ({arch})"
            )
        if faithfulness:
            checks = _text_faithfulness(text_explainer, loaded, ref, from_file, method, n, deleted)
            report["deletion"], report["completeness"] = checks.deletion, checks.completeness
    else:
        image_explainer = ImageExplainer(loaded)
        chosen = method or ("gradcam" if "gradcam" in image_explainer.methods else "ig")
        image_explainer.check_method(chosen)
        paths = _image_paths(items, file)
        if not paths and not faithfulness:
            raise DataError("nothing to explain: give image files as arguments or --file DIR")
        if paths:
            report["images"] = _explain_images(image_explainer, paths, chosen, target, out, as_json)
        if faithfulness:
            data = _test_split(loaded, ref)
            images = data.raw.images[data.indices("test")[:n]]
            methods = [method] if method else list(image_explainer.methods)
            heat = [gradcam_check(image_explainer, images, method=m) for m in methods]
            title = (
                f"Heat of {ref} on object pixels (> 0), {len(images)} test images; references: "
                "uniform heat, the same method on random weights"
            )
            console.print(heat_table(heat, title=title))
            report["heat"] = heat
    if html is not None:
        document = html_report(model=ref, architecture=arch, method=chosen, **report)
        console.print(f"report: {save_html(html, document)}")
