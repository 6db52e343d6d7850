"""The dashboard in a real headless browser (Debian's chromium through Playwright, as the
serving page's tests) against real servers on 127.0.0.1: ``neuroplast ui`` on a hand-made
registry, and ``neuroplast serve`` (its ``/ui``) on the serving tests' trained models after
real traffic. Every page loads with no console error and no request leaving the server;
hostile text stays text; bad URLs are 404 pages. With ``NEUROPLAST_UI_SCREENSHOTS=DIR`` the
served pages' screenshots are saved there (``docs/evidence/ui`` holds the committed ones).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving.fixtures import TEXT_MODEL, Server
from tests.serving.test_page import Watched
from tests.ui.conftest import HOSTILE, MODEL

SCREENSHOTS_ENV = "NEUROPLAST_UI_SCREENSHOTS"


def visit(page: Watched, url: str, status: int = 200) -> Any:
    response = page.page.goto(url)
    assert response is not None and response.status == status, url
    page.page.wait_for_load_state("load")
    return response


def column(page: Watched, table: str, index: int) -> list[str]:
    cells = page.page.locator(f"#{table} tbody tr td:nth-child({index})")
    return [cells.nth(i).inner_text().strip() for i in range(cells.count())]


def test_every_page_of_neuroplast_ui_loads_clean(page: Watched, ui_server: Server) -> None:
    dialogs: list[str] = []
    page.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    base = ui_server.url + "/ui"
    paths = [
        "/",
        f"/models/{MODEL}",
        f"/models/{MODEL}/versions/1",
        f"/models/{MODEL}/versions/2",
        f"/models/{MODEL}/versions/3",
        "/runs",
        "/runs/1",
    ]
    for path in paths:
        visit(page, base + path)
        assert page.page.locator("h1").count() == 1, path
    assert page.errors == []
    assert page.external(ui_server.url) == []
    assert dialogs == []  # the hostile reason and inputs ran nothing

    visit(page, f"{base}/models/{MODEL}")
    assert column(page, "versions", 1) == [f"{MODEL}:3", f"{MODEL}:2", f"{MODEL}:1"]
    assert column(page, "versions", 2)[-1] == "production"
    assert HOSTILE in column(page, "audit", 6)  # shown as the text it is
    visit(page, f"{base}/models/{MODEL}/versions/1")
    plot = page.page.locator("section.evaluation img.plot")
    assert plot.count() == 1
    assert page.page.evaluate("img => img.naturalWidth", plot.element_handle()) > 0


def test_bad_urls_are_dashboard_404_pages(page: Watched, ui_server: Server) -> None:
    for path in (f"/ui/models/{MODEL}/versions/42", "/ui/models/nope", "/ui/runs/9", "/ui/x"):
        visit(page, ui_server.url + path, status=404)
        assert page.page.inner_text("h1") == "Not found"
        assert page.page.locator("header nav a").count() == 2  # the dashboard's own page
    assert page.external(ui_server.url) == []


def test_neuroplast_ui_needs_no_models_and_refuses_a_taken_port(ui_server: Server) -> None:
    done = ui_server.cli("ui", "--port", str(ui_server.port), timeout=60)
    assert done.returncode != 0
    assert f"port {ui_server.port} on 127.0.0.1 is already in use" in done.stderr
    assert "Traceback" not in done.stderr


def _wait_for_logged(server: Server, requests: int, timeout: float = 60.0) -> None:
    from neuroplast.registry import Registry

    deadline = time.monotonic() + timeout
    with Registry(server.home, read_only=True) as registry:
        while time.monotonic() < deadline:
            if len(registry.predictions(TEXT_MODEL, limit=1000)) >= requests:
                return
            time.sleep(0.3)
    raise AssertionError(f"the prediction log did not reach {requests} rows")


def _check_drift_and_log_a_decision(server: Server) -> None:
    """``neuroplast monitor`` on the logged traffic (stored for the dashboard), and one
    closed-loop decision on the audit trail, as ``neuroplast loop`` writes them."""
    from neuroplast.registry import Registry
    from neuroplast.registry.lifecycle import add_event

    done = server.cli("monitor", TEXT_MODEL, "--window", "10", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    with Registry(server.home) as registry:
        (check,) = registry.drift_checks(TEXT_MODEL)
        add_event(
            registry,
            TEXT_MODEL,
            "loop_check",
            reason="drift in the newest windows; too little feedback to update",
            details={"alarms": check.alarms, "windows": check.windows, "min_feedback": 200},
        )


@pytest.mark.slow  # trains the serving models, compresses one, starts a server
def test_serve_shows_the_dashboard_of_real_models(
    page: Watched, start_server: Any, tmp_path: Path
) -> None:
    server: Server = start_server()
    compressed = server.cli(
        "compress", f"{TEXT_MODEL}:1", "--quantize", "dynamic", "--test-limit", "100", timeout=600
    )
    assert compressed.returncode == 0, compressed.stderr
    started = server.cli(
        "ab", "start", TEXT_MODEL, "--split", "1:0.8,2:0.2", "--reason", "seed 11 on <b>20 %</b>"
    )
    assert started.returncode == 0, started.stderr
    with server.client() as client:
        deadline = time.monotonic() + 60
        while client.get(f"/v1/models/{TEXT_MODEL}").json().get("arms") in (None, {}):
            assert time.monotonic() < deadline, "the server did not pick up the A/B test"
            time.sleep(0.3)
        ids = []
        for i in range(30):
            answer = client.post(
                f"/v1/models/{TEXT_MODEL}/predict",
                json={"inputs": ["a gorgeous, witty film", "a tedious mess"], "key": f"u{i}"},
            )
            assert answer.status_code == 200, answer.text
            ids.append(answer.json()["request_id"])
    _wait_for_logged(server, 60)
    feedback = httpx.post(
        f"{server.url}/v1/models/{TEXT_MODEL}/feedback",
        json={"request_id": ids[0], "label": "fresh"},
        timeout=30,
    )
    assert feedback.status_code == 200, feedback.text
    _check_drift_and_log_a_decision(server)

    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    base = server.url + "/ui"
    pages = {
        "models": "/",
        "model": f"/models/{TEXT_MODEL}",
        "version": f"/models/{TEXT_MODEL}/versions/1",
        "compressed-version": f"/models/{TEXT_MODEL}/versions/3",
        "runs": "/runs",
        "run": "/runs/1",
    }
    page.page.set_viewport_size({"width": 1280, "height": 900})
    for name, path in pages.items():
        visit(page, base + path)
        page.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert page.errors == []
    assert page.external(server.url) == []

    visit(page, f"{base}/models/{TEXT_MODEL}")
    versions = dict(zip(column(page, "versions", 1), column(page, "versions", 2), strict=True))
    assert versions == {
        f"{TEXT_MODEL}:3": "candidate",
        f"{TEXT_MODEL}:2": "candidate",
        f"{TEXT_MODEL}:1": "production",
    }
    assert column(page, "versions", 4)[0] == f"{TEXT_MODEL}:1"  # the compressed one's parent
    assert "1:0.8,2:0.2; seed 11 on <b>20 %</b>" in column(page, "audit", 6)  # as text
    assert "promote" in column(page, "audit", 3)
    assert sum(int(n) for n in column(page, "latency", 3)) == 30  # one row per version and arm
    assert set(column(page, "latency", 1)) == {f"{TEXT_MODEL}:1", f"{TEXT_MODEL}:2"}
    assert "30 requests answered" in page.page.inner_text("#traffic")

    drift = column(page, "drift-windows", 4)
    assert len(drift) >= 2 and set(drift) <= {"ALARM", "no alarm"}
    assert column(page, "loop", 2) == ["loop_check"]
    assert "min_feedback 200" in column(page, "loop", 5)[0]

    visit(page, f"{base}/models/{TEXT_MODEL}/versions/3")
    assert page.page.locator("#compression tbody tr").count() == 2
    visit(page, f"{base}/models/{TEXT_MODEL}/versions/1")
    plots = page.page.locator("img.plot")
    assert plots.count() >= 1
    for i in range(plots.count()):
        assert page.page.evaluate("img => img.naturalWidth", plots.nth(i).element_handle()) > 0
    visit(page, f"{base}/runs/1")
    train_loss = page.page.locator('polyline[data-label="train loss"]')
    assert train_loss.count() == 1
    assert len(train_loss.get_attribute("points").split()) == 2  # two epochs, two points
    assert len(column(page, "epochs", 1)) == 2
    assert page.errors == []
