"""The page at ``/`` in a real headless browser (Debian's chromium, driven by Playwright)
against a real server: it loads with no console error and no request leaving the server, a
text gets a label, probabilities and highlighted tokens, an image its overlay, and errors
(no model served, an input the server refuses) are shown from the JSON error shape."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _missing, load_debian_data
from tests.serving.fixtures import IMAGE_MODEL, TEXT_MODEL, Server

CHROMIUM = os.environ.get("NEUROPLAST_TEST_CHROMIUM", "/usr/bin/chromium")
PAGE = files("neuroplast") / "serving" / "static" / "index.html"  # the installed page
TIMEOUT_MS = 120_000  # the first explain loads torch in the server


# module, not session: Playwright's sync API runs an event loop in this thread while it is
# open, so a browser kept for the session broke every later asyncio.run() (tests/serving/
# test_pool.py) and the dashboard's own browser (tests/ui) in the full run
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        _missing("Chromium", "Debian package chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright", "the dev extra: pip install -e '.[dev]'")
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


class Watched:
    """A page with its console errors, uncaught exceptions and every URL it requested."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("request", lambda r: self.requests.append(r.url))
        page.set_default_timeout(TIMEOUT_MS)

    def external(self, origin: str) -> list[str]:
        return [url for url in self.requests if not url.startswith((origin, "data:", "blob:"))]


@pytest.fixture()
def page(browser: Any) -> Iterator[Watched]:
    context = browser.new_context()
    yield Watched(context.new_page())
    context.close()


def open_page(page: Watched, server: Server) -> None:
    page.page.goto(server.url + "/")
    page.page.wait_for_selector("#model:not([disabled])")


def test_page_is_self_contained() -> None:
    """No URL in the page leaves the server: no CDN, no external font, script or style."""
    html = PAGE.read_text()
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html, re.I)
    assert not re.search(r"url\(\s*[\"']?(?:https?:)?//|@import", html, re.I)
    assert "<script src" not in html and "stylesheet" not in html


def drop_file(page: Any, target: str, path: Path) -> None:
    """Drop the file ``path`` on ``target`` as a person dragging it from their desktop would."""
    page.evaluate(
        """([selector, name, bytes]) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
            const zone = document.querySelector(selector);
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true}));
            }
        }""",
        [target, path.name, list(path.read_bytes())],
    )


@pytest.mark.slow  # the shared server's setup trains the models and loads them
def test_page_loads_clean(page: Watched, server: Server) -> None:
    open_page(page, server)
    options = page.page.locator("#model option").all_inner_texts()
    assert TEXT_MODEL in options
    page.page.select_option("#model", TEXT_MODEL)
    assert page.page.locator("#text").is_visible()
    assert page.page.locator("#image-field").is_hidden()
    for name in ("Model", "Text"):  # every control has an accessible name
        assert page.page.get_by_label(name, exact=True).count() == 1
    assert page.page.get_by_role("button", name="Predict").is_enabled()
    assert page.page.locator("#error").is_hidden()
    assert page.errors == []
    assert page.external(server.url) == []


@pytest.mark.slow  # the shared server's setup trains the models and loads them
def test_text_gets_label_probabilities_and_tokens(page: Watched, server: Server) -> None:
    served = httpx.get(f"{server.url}/v1/models/{TEXT_MODEL}", timeout=30).json()
    labels = served["labels"]
    open_page(page, server)
    page.page.select_option("#model", TEXT_MODEL)
    page.page.fill("#text", "a gorgeous, witty and moving film")
    page.page.click("#predict")
    page.page.wait_for_selector("#explanation:not([hidden])")

    assert page.page.inner_text("#label") in labels
    assert f"{TEXT_MODEL}:" in page.page.inner_text("#version")
    bars = page.page.locator("#probabilities [role=meter]")
    values = [float(bars.nth(i).get_attribute("aria-valuenow")) for i in range(bars.count())]
    assert len(values) == len(labels)
    assert all(0.0 <= v <= 1.0 for v in values)
    assert sum(values) == pytest.approx(1.0, abs=1e-3)

    tokens = page.page.locator("#tokens .tok")
    assert tokens.count() > 0
    attributions = [
        float(tokens.nth(i).get_attribute("data-attribution")) for i in range(tokens.count())
    ]
    assert any(a != 0.0 for a in attributions)
    assert "witty" in page.page.inner_text("#tokens")
    assert page.page.locator("#error").is_hidden()
    assert page.errors == []
    assert page.external(server.url) == []


@pytest.mark.slow  # the shared server's setup trains the models and loads them
def test_no_model_served_is_an_error(page: Watched, server: Server) -> None:
    page.page.route(
        "**/v1/models",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body='{"models": []}'
        ),
    )
    page.page.goto(server.url + "/")
    page.page.wait_for_selector("#error:not([hidden])")
    assert "serves no model" in page.page.inner_text("#error-message")
    assert page.page.locator("#predict").is_disabled()
    assert page.errors == []


@pytest.mark.slow  # the shared server's setup trains the models and loads them
def test_server_error_is_shown_from_its_json_shape(page: Watched, server: Server) -> None:
    """The page shows the server's own message and code for an input it refuses."""
    too_long = "word " * 3_000  # 15,000 characters: beyond the text-length limit
    direct = httpx.post(
        f"{server.url}/v1/models/{TEXT_MODEL}/predict", json={"inputs": too_long}, timeout=60
    )
    assert 400 <= direct.status_code < 500
    error = direct.json()["error"]
    open_page(page, server)
    page.page.select_option("#model", TEXT_MODEL)
    page.page.evaluate("t => { document.getElementById('text').value = t; }", too_long)
    page.page.click("#predict")
    page.page.wait_for_selector("#error:not([hidden])")
    shown = page.page.inner_text("#error-message")
    assert error["message"] in shown
    assert f"({error['code']}, HTTP {direct.status_code})" in shown
    assert page.page.locator("#result").is_hidden()


@pytest.mark.slow  # the shared server's setup trains the models and loads them
def test_empty_text_is_refused_before_a_request(page: Watched, server: Server) -> None:
    open_page(page, server)
    page.page.select_option("#model", TEXT_MODEL)
    page.page.fill("#text", "   ")
    before = len(page.requests)
    page.page.click("#predict")
    page.page.wait_for_selector("#error:not([hidden])")
    assert "Type a text" in page.page.inner_text("#error-message")
    assert len(page.requests) == before


@pytest.mark.slow  # the shared server's setup trains the models and loads them
def test_image_gets_label_and_overlay(page: Watched, server: Server, tmp_path: Path) -> None:
    from PIL import Image

    data = load_debian_data("fashion_mnist", limit=10, seed=4)
    png = tmp_path / "item.png"
    Image.fromarray(data.images[0][0]).save(png, format="PNG")  # (C=1, H, W) -> H x W

    open_page(page, server)
    page.page.select_option("#model", IMAGE_MODEL)
    assert page.page.locator("#drop").is_visible()
    drop_file(page.page, "#drop", png)
    assert page.page.inner_text("#drop-label") == png.name
    page.page.click("#predict")
    page.page.wait_for_selector("#explanation:not([hidden])")
    assert page.page.inner_text("#label") in data.label_names
    assert f"{IMAGE_MODEL}:" in page.page.inner_text("#version")
    assert page.page.locator("#overlay").is_visible()
    assert page.page.locator("#token-legend").is_hidden()  # the tokens' legend is for texts
    assert page.page.evaluate("document.getElementById('overlay').naturalWidth") > 0
    assert page.errors == []
    assert page.external(server.url) == []
