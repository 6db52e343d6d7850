"""The HTML report is valid, self-contained (no fetches) and shows the numbers it was given."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from neuroplast.explain import (
    ImageExplainer,
    TextExplainer,
    gradcam_check,
    html_report,
    save_html,
    select_texts,
    text_checks,
)
from tests.explain._data import split_images, split_texts
from tests.explain.conftest import load

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Checker(HTMLParser):
    """Tags must nest and close; collects every attribute value and the data URIs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_self_contained(document: str) -> _Checker:
    assert document.startswith("<!DOCTYPE html>")
    checker = _Checker()
    checker.feed(document)
    checker.close()
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
    assert {"html", "head", "body", "title", "meta"} <= set(checker.tags)
    assert not {"script", "link", "iframe", "object", "embed"} & set(checker.tags)
    for name, value in checker.attributes:
        if name in {"src", "href"}:
            assert value.startswith("data:"), f"{name}={value[:40]} would be fetched"
    assert "url(" not in document and "@import" not in document
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", document)
    return checker


def test_text_report_with_checks(
    explain_home: Path, text_models: dict[str, str], tmp_path: Path
) -> None:
    explainer = TextExplainer(load(explain_home, text_models["cnn"]))
    texts = ['a <b>bold</b> & "witty" film', *split_texts(explainer.loaded, 3)]
    explanations = explainer.explain(texts, method="ig")
    ids = select_texts(explainer, split_texts(explainer.loaded, 60), 20, min_tokens=4)
    checks = text_checks(explainer, ids, methods=["ig", "saliency"], random_draws=2)
    document = html_report(
        model="rt-cnn:1",
        architecture="cnn",
        method="ig",
        texts=explanations,
        deletion=checks.deletion,
        completeness=checks.completeness,
    )
    path = save_html(tmp_path / "report.html", document)
    checker = check_self_contained(path.read_text(encoding="utf-8"))
    body = " ".join(checker.text)
    # user text is escaped, not markup: "<", ">" and "&" arrive as the text of their spans
    document_text = path.read_text(encoding="utf-8")
    assert "&lt;</span>" in document_text and "&amp;</span>" in document_text
    assert "<b>bold" not in document_text
    assert sum(1 for tag in checker.tags if tag == "span") >= sum(
        len(e.tokens) for e in explanations
    )
    for r in checks.deletion:
        assert f"{r.top_drop:.4f}" in body and f"{r.random_drop:.4f}" in body
    assert checks.completeness is not None
    assert f"{100 * checks.completeness.max_relative:.3f} %" in body
    titles = [v for name, v in checker.attributes if name == "title"]
    assert f"{explanations[0].scores[0]:+.4f}" in titles


def test_image_report_embeds_the_overlays(
    explain_home: Path, image_model: str, tmp_path: Path
) -> None:
    explainer = ImageExplainer(load(explain_home, image_model))
    images, _ = split_images(explainer.loaded, 3)
    explanations = explainer.explain(images, method="gradcam", sources=["a.png", "b.png", "c.png"])
    heat = gradcam_check(explainer, images)
    document = html_report(
        model="fm-cnn:1",
        architecture="image_cnn",
        method="gradcam",
        images=explanations,
        heat=[heat],
    )
    checker = check_self_contained(save_html(tmp_path / "r.html", document).read_text())
    sources = [v for name, v in checker.attributes if name == "src"]
    assert len(sources) == 3
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        picture = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert picture.size == (2 * 28 * 6, 28 * 6)
    assert f"{100 * heat.mean_on_object:.1f} %" in " ".join(checker.text)


def test_the_checker_catches_external_resources() -> None:
    with pytest.raises(AssertionError):
        check_self_contained(
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title>'
            '</head><body><img src="https://example.org/x.png"></body></html>'
        )
    with pytest.raises(AssertionError):
        check_self_contained(
            "<!DOCTYPE html><html><head><title>x</title></head><body><div></body></html>"
        )
