"""Explain a loaded model's predictions and, on request, measure how faithful each method is.

:func:`explain_loaded` is what ``Engine.explain`` and ``neuroplast explain`` run: it picks
the explainer of the model's modality and the default method (``ig`` for texts, ``gradcam``
for images where the architecture has convolutions), explains the inputs, writes image
overlays, and with ``faithfulness`` runs the checks (the deletion test and completeness on
texts, heat on object pixels on images) on the model's own test split or the given inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from neuroplast.errors import ConfigError, DataError
from neuroplast.explain.image import HeatCheck, ImageExplainer, gradcam_check
from neuroplast.explain.overlay import save_overlay
from neuroplast.explain.report import html_report
from neuroplast.explain.text import TextExplainer

if TYPE_CHECKING:
    from neuroplast.data.images import ImageData
    from neuroplast.data.prepare import PreparedData
    from neuroplast.explain._results import ImageExplanation, TokenExplanation
    from neuroplast.explain.faithfulness import CompletenessResult, DeletionResult, TextChecks
    from neuroplast.inference import LoadedModel

__all__ = ["ExplainReport", "check_counts", "explain_loaded"]


@dataclass
class ExplainReport:
    """The explanations of one model version and, with ``faithfulness``, their checks.

    ``texts`` or ``images`` hold the explanations (``overlays``: the PNG written for each
    image, when asked); ``deletion`` / ``completeness`` (texts) and ``heat`` (images) the
    checks, run on ``checked`` inputs."""

    ref: str
    architecture: str
    modality: str
    method: str
    texts: list[TokenExplanation] = field(default_factory=list)
    images: list[ImageExplanation] = field(default_factory=list)
    overlays: list[Path] = field(default_factory=list)
    deletion: list[DeletionResult] = field(default_factory=list)
    completeness: CompletenessResult | None = None
    heat: list[HeatCheck] = field(default_factory=list)
    checked: int = 0
    deleted: int = 0

    def html(self) -> str:
        """The whole report as one self-contained HTML document."""
        return html_report(
            model=self.ref,
            architecture=self.architecture,
            method=self.method,
            texts=self.texts,
            images=self.images,
            deletion=self.deletion,
            completeness=self.completeness,
            heat=self.heat,
        )


def check_counts(n: int, deleted: int) -> None:
    """The faithfulness checks need at least one input and one deleted token."""
    if n < 1 or deleted < 1:
        raise ConfigError("--n and --deleted must be at least 1")


def _test_split(loaded: LoadedModel, ref: str) -> PreparedData:
    from neuroplast.config import DataConfig
    from neuroplast.data.prepare import prepare

    if not loaded.meta.data:
        raise ConfigError(
            f"{ref} was trained on data neuroplast did not load, so it has no test split to "
            "check on; pass inputs with --file FILE"
        )
    return prepare(DataConfig.model_validate(loaded.meta.data), vocab=loaded.vocab)


def _overlay_path(out: Path, i: int, count: int) -> Path:
    return out if count == 1 else out.with_name(f"{out.stem}-{i + 1}{out.suffix}")


def _text_checks(
    explainer: TextExplainer, texts: list[str], method: str | None, n: int, k: int
) -> tuple[TextChecks, int]:
    from neuroplast.explain.faithfulness import select_texts, text_checks

    ids = select_texts(explainer, texts, n, min_tokens=k + 1)
    methods = [method] if method else list(explainer.methods)
    return text_checks(explainer, ids, methods=methods, k=k), len(ids)


def _explain_text(
    report: ExplainReport,
    explainer: TextExplainer,
    loaded: LoadedModel,
    inputs: Sequence[str],
    *,
    method: str | None,
    target: str | None,
    faithfulness: bool,
    check_inputs: Sequence[str],
    n: int,
) -> None:
    explainer.check_method(report.method)
    if not inputs and not faithfulness:
        raise DataError("nothing to explain: give texts as arguments or --file FILE")
    if inputs:
        report.texts = explainer.explain(list(inputs), method=report.method, target=target)
    if faithfulness:
        texts = list(check_inputs) or _test_split(loaded, report.ref).texts("test")
        checks, report.checked = _text_checks(explainer, texts, method, n, report.deleted)
        report.deletion, report.completeness = checks.deletion, checks.completeness


def _explain_images(
    report: ExplainReport,
    explainer: ImageExplainer,
    loaded: LoadedModel,
    paths: Sequence[str | Path],
    *,
    method: str | None,
    target: str | None,
    faithfulness: bool,
    n: int,
    overlay: Path | None,
) -> None:
    from neuroplast.inference import load_image_files

    explainer.check_method(report.method)
    if not paths and not faithfulness:
        raise DataError("nothing to explain: give image files as arguments or --file DIR")
    if paths:
        channels, size, _ = explainer.image_shape
        images = load_image_files([Path(p) for p in paths], channels=channels, size=size)
        sources = [str(p) for p in paths]
        report.images = explainer.explain(
            images, method=report.method, target=target, sources=sources
        )
        if overlay is not None:
            count = len(report.images)
            report.overlays = [
                save_overlay(_overlay_path(overlay, i, count), e)
                for i, e in enumerate(report.images)
            ]
    if faithfulness:
        data = _test_split(loaded, report.ref)
        raw = cast("ImageData", data.raw)  # an image model's data are images
        checked = raw.images[data.indices("test")[:n]]
        methods = [method] if method else list(explainer.methods)
        report.heat = [gradcam_check(explainer, checked, method=m) for m in methods]
        report.checked = len(checked)


def explain_loaded(
    loaded: LoadedModel,
    inputs: Sequence[str | Path] = (),
    *,
    ref: str | None = None,
    method: str | None = None,
    target: str | None = None,
    faithfulness: bool = False,
    check_inputs: Sequence[str] = (),
    n: int = 200,
    deleted: int = 3,
    overlay: Path | None = None,
) -> ExplainReport:
    """Explain ``inputs`` (texts, or image files for an image model) with ``method``
    (default ``ig`` for texts, ``gradcam`` for images where it applies), for class
    ``target`` (default: the predicted one). ``faithfulness`` also checks every method (or
    only ``method``) on ``n`` inputs: ``check_inputs`` texts, else the model's test split;
    ``deleted`` tokens are deleted in the deletion test. ``overlay`` writes each image's
    heat map as a PNG there (``name-1.png``, ``name-2.png``... for several)."""
    check_counts(n, deleted)
    meta = loaded.meta
    ref = ref or (f"{meta.name}:{meta.version}" if meta.name else "model")
    if meta.modality == "text":
        if overlay is not None:
            raise ConfigError("--out writes image overlays; for a text model use --html FILE")
        report = ExplainReport(ref, meta.architecture, "text", method or "ig", deleted=deleted)
        _explain_text(
            report,
            TextExplainer(loaded),
            loaded,
            [str(t) for t in inputs],
            method=method,
            target=target,
            faithfulness=faithfulness,
            check_inputs=check_inputs,
            n=n,
        )
        return report
    explainer = ImageExplainer(loaded)
    default = "gradcam" if "gradcam" in explainer.methods else "ig"
    report = ExplainReport(ref, meta.architecture, "image", method or default, deleted=deleted)
    _explain_images(
        report,
        explainer,
        loaded,
        [Path(p) for p in inputs],
        method=method,
        target=target,
        faithfulness=faithfulness,
        n=n,
        overlay=overlay,
    )
    return report
