"""The dashboard's pages in process (FastAPI's TestClient) on a hand-made registry: what
each page shows, its 404 pages, escaping, pagination, verified plot reads, and that the
dashboard alone imports no torch."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from neuroplast.registry import Registry
from tests.ui.conftest import HOSTILE, MODEL, make_home


@pytest.fixture(scope="module")
def client(made_home: Path) -> Iterator[TestClient]:
    from neuroplast.ui import standalone_app

    with Registry(made_home, read_only=True) as registry:
        yield TestClient(standalone_app(registry))


def cells(page: str, table: str) -> list[list[str]]:
    """The text of every cell of the table with id ``table``, row by row."""
    body = re.search(rf'<table id="{table}".*?</table>', page, re.S)
    assert body, f"no table {table!r}"
    rows = re.findall(r"<tr.*?</tr>", body.group(0), re.S)
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[dh].*?</t[dh]>", r, re.S)
        ]
        for r in rows
    ]


def test_root_redirects_to_the_dashboard(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code in (302, 307)
    assert answer.headers["location"] == "/ui/"


def test_models_page_lists_the_model(client: TestClient) -> None:
    answer = client.get("/ui/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    rows = cells(answer.text, "models")
    assert rows[1][0] == MODEL
    assert rows[1][4:] == ["3", f"{MODEL}:3", f"{MODEL}:1"]  # versions, newest, production


def test_model_page_versions_stage_lineage_ab_and_shadow(client: TestClient) -> None:
    html = client.get(f"/ui/models/{MODEL}").text
    versions = {row[0]: row for row in cells(html, "versions")[1:]}
    assert list(versions) == [f"{MODEL}:3", f"{MODEL}:2", f"{MODEL}:1"]  # newest first
    assert versions[f"{MODEL}:1"][1:4] == ["production", "train", "none"]
    assert versions[f"{MODEL}:2"][1:4] == ["candidate", "compress", f"{MODEL}:1"]
    assert versions[f"{MODEL}:3"][2:4] == ["continual", f"{MODEL}:1"]
    panel = re.search(r'<div class="panel" id="ab">.*?</div>', html, re.S)
    assert panel
    text = re.sub(r"<[^>]+>|\s+", " ", panel.group(0))
    assert f"{MODEL}:1 90.0 %" in re.sub(r"\s+", " ", text)
    assert f"{MODEL}:2 10.0 %" in re.sub(r"\s+", " ", text)
    assert f"Shadows (get a copy of every request, never answer): {MODEL}:3" in " ".join(
        text.split()
    )


def test_model_page_traffic_latency_and_audit(client: TestClient) -> None:
    html = client.get(f"/ui/models/{MODEL}").text
    assert "40 requests answered in the last 60 minutes" in html
    assert '<polyline class="series" data-label="requests"' in html
    latency = {(r[0], r[1].split()[0]): r for r in cells(html, "latency")[1:]}
    assert latency[f"{MODEL}:1", "ab"][2] == "36"  # requests
    assert latency[f"{MODEL}:2", "ab"][2] == "4"
    shadow = latency[f"{MODEL}:3", "shadow"]
    assert shadow[7].startswith("0.0 % of 40")  # the shadow never agreed: "rotten" vs "fresh"
    assert latency[f"{MODEL}:1", "ab"][8:] == ["1", "100.0 %"]  # one feedback, right
    audit = cells(html, "audit")[1:]
    actions = [row[2] for row in audit]
    assert actions[:3] == ["shadow_start", "ab_start", "promote"]  # newest first
    promote = audit[2]
    assert promote[3:5] == [f"{MODEL}:1", "candidate → production"]


def test_drift_panel_shows_the_newest_stored_check_window_by_window(client: TestClient) -> None:
    html = client.get(f"/ui/models/{MODEL}").text
    panel = re.search(r'<div class="panel" id="drift">.*?</div>', html, re.S)
    assert panel
    text = " ".join(re.sub(r"<[^>]+>", "", panel.group(0)).split())
    assert f"2026-12-01 10:00:00 UTC: {MODEL}:1's traffic against its val reference" in text
    assert "1 of 3 windows raised the alarm" in text
    windows = cells(html, "drift-windows")[1:]
    assert [w[3] for w in windows] == ["no alarm", "ALARM", "no alarm"]
    assert windows[1][1:3] == ["2026-12-01 08:10:00", "2026-12-01 08:19:00"]
    assert windows[1][4:] == ["input length (KS)", "1e-05"]
    assert windows[0][4:] == ["", "0.61"]  # ADWIN has no p-value: not the smallest
    checks = cells(html, "drift-checks")[1:]
    assert [c[0] for c in checks] == ["2026-12-01 10:00:00", "2026-12-01 09:00:00"]
    assert [c[5:] for c in checks] == [["3", "1"], ["2", "0"]]


def test_loop_decisions_show_their_numbers(client: TestClient) -> None:
    html = client.get(f"/ui/models/{MODEL}").text
    loop = cells(html, "loop")[1:]
    assert [row[1] for row in loop] == ["loop_gate_reject", "loop_check"]  # newest first
    assert loop[0][2] == f"{MODEL}:3" and loop[1][2] == ""
    assert "old_accuracy_drop 0.031" in loop[0][4] and "max_drop 0.02" in loop[0][4]
    assert HOSTILE in loop[0][4]  # as text (escaped), see the escaping test
    assert "min_p 1e-05" in loop[1][4] and "feedback 240" in loop[1][4]


def test_a_model_without_checks_or_loop_decisions_says_so(tmp_path: Path) -> None:
    import importlib.util

    from neuroplast.registry.artifacts import atomic_write_bytes
    from neuroplast.ui import standalone_app

    with Registry(tmp_path / "home") as registry:
        draft = registry.create_version(
            "bare", architecture="cnn", task="t", modality="text", config={}, source="train"
        )
        weights = draft.artifact_dir / "weights.safetensors"
        files = {"weights.safetensors": (weights, atomic_write_bytes(weights, b"w"))}
        registry.finalize_version(draft.id, files=files, params_count=1, metrics={})
        html = TestClient(standalone_app(registry)).get("/ui/models/bare").text
    panel = re.search(r'<div class="panel" id="drift">.*?</div>', html, re.S)
    assert panel and 'id="drift-windows"' not in html
    if importlib.util.find_spec("neuroplast.monitoring") is None:
        assert "Not measured yet" in panel.group(0)
    else:
        assert "No drift check stored yet" in panel.group(0)
        assert "neuroplast monitor bare --html drift.html" in panel.group(0)
    assert 'id="loop"' not in html and "No decision of the closed loop" in html


def test_hostile_text_is_escaped_everywhere(client: TestClient) -> None:
    """The promotion's reason (and the logged inputs) hold HTML: it is shown as text."""
    from markupsafe import escape

    for path in (f"/ui/models/{MODEL}", f"/ui/models/{MODEL}/versions/1", "/ui/"):
        page = client.get(path).text
        assert "<script>alert" not in page and "onerror=alert(1)>" not in page
        assert "<script" not in page  # the dashboard has no script at all
    page = client.get(f"/ui/models/{MODEL}").text
    assert str(escape(HOSTILE)) in page
    assert cells(page, "audit")[3][5] == HOSTILE  # shown as the text it is


def test_version_page_lineage_evaluation_and_plot(client: TestClient) -> None:
    html = client.get(f"/ui/models/{MODEL}/versions/1").text
    assert re.search(r'<span class="stage stage-production">production</span>', html)
    assert "run 1</a>" in html
    evaluation = re.search(r'<section class="evaluation">.*?</section>', html, re.S)
    assert evaluation and "rotten_tomatoes" in evaluation.group(0)
    src = re.search(r'<img class="plot" src="([^"]+)"', evaluation.group(0))
    assert src and src.group(1) == f"/ui/models/{MODEL}/versions/1/plots/confusion_test.png"
    plot = client.get(src.group(1))
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(b"\x89PNG")


def test_compressed_version_shows_its_comparison_table(client: TestClient) -> None:
    html = client.get(f"/ui/models/{MODEL}/versions/2").text
    lineage = re.search(r'<ol id="lineage".*?</ol>', html, re.S)
    assert lineage and f"{MODEL}:1</a>" in lineage.group(0)
    rows = cells(html, "compression")
    assert rows[0][:3] == ["technique", "backend", "size MB"]
    assert rows[1][0] == "parent" and rows[2][0] == "dynamic-int8"
    assert rows[2][2:4] == ["0.4", "3.00x"]
    assert rows[2][-3] == "-0.50 pt"  # the accuracy change, in points


def test_continual_version_shows_its_results_and_plot(client: TestClient) -> None:
    html = client.get(f"/ui/models/{MODEL}/versions/3").text
    table = dict((r[0], r[1]) for r in cells(html, "continual"))
    assert table["strategy"] == "replay"
    assert table["new_accuracy_after"] == "0.83"
    assert table["new_classes"] == "meh"
    assert f"/ui/models/{MODEL}/versions/3/plots/accuracy_curves.png" in html


def test_runs_and_a_runs_curves(client: TestClient) -> None:
    rows = cells(client.get("/ui/runs").text, "runs")
    assert rows[1][0].startswith("run 1") and rows[1][1:4] == [MODEL, "completed", "3"]
    html = client.get("/ui/runs/1").text
    lines = dict(re.findall(r'data-label="([^"]+)" points="([^"]+)"', html))
    assert set(lines) == {"train loss", "validation loss", "validation accuracy"}
    loss = [tuple(map(float, p.split(","))) for p in lines["train loss"].split()]
    assert len(loss) == 3
    assert [x for x, _ in loss] == sorted(x for x, _ in loss)
    assert loss[0][1] < loss[1][1] < loss[2][1]  # SVG y grows downwards: the loss fell
    epochs = cells(html, "epochs")
    assert [r[1] for r in epochs[1:]] == ["0.69", "0.52", "0.41"]


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/ui/models/nope", "no model named &#39;nope&#39;"),
        (f"/ui/models/{MODEL}/versions/9", "no model version matches"),
        (f"/ui/models/{MODEL}/versions/x1", "version &#39;x1&#39; does not exist"),
        (f"/ui/models/{MODEL}/versions/99999999999999999999", "does not exist"),
        (f"/ui/models/{MODEL}/versions/1/plots/weights.png", "has no stored plot"),
        ("/ui/runs/77", "run 77 does not exist"),
        ("/ui/runs/-1", "does not exist"),
        ("/ui/no/such/page", "no page at /ui/no/such/page"),
        ("/ui/?page=0", "there is no page"),
        ("/ui/models/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ],
)
def test_bad_urls_are_404_pages(client: TestClient, path: str, says: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in answer.text
    assert says in answer.text
    assert "Traceback" not in answer.text and "<script>" not in answer.text


def test_pages_are_paginated(tmp_path: Path) -> None:
    from neuroplast.registry.lifecycle import promote
    from neuroplast.ui import standalone_app

    home = make_home(tmp_path / "home")
    with Registry(home) as registry:
        for i in range(30):  # 30 more events: two pages of audit trail
            promote(registry, f"{MODEL}:{1 + i % 2}", "production", reason=f"flip {i}")
        client = TestClient(standalone_app(registry))
        first = client.get(f"/ui/models/{MODEL}").text
        assert len(cells(first, "audit")) == 1 + 25
        assert 'href="?page=1&amp;events=2"' in first
        second = client.get(f"/ui/models/{MODEL}?events=2").text
        assert len(cells(second, "audit")) > 1
        assert "&rarr; newer" in second or "newer" in second
        assert client.get("/ui/runs?page=2").status_code == 200  # an empty page, not an error


def test_a_plot_that_changed_is_not_shown(tmp_path: Path) -> None:
    """Plots are read through the registry's verified read: a modified file is refused."""
    from neuroplast.ui import standalone_app

    home = make_home(tmp_path / "home")
    plot = next((home / "artifacts").rglob("confusion_test.png"))
    plot.write_bytes(plot.read_bytes() + b"tampered")
    with Registry(home) as registry:
        answer = TestClient(standalone_app(registry)).get(
            f"/ui/models/{MODEL}/versions/1/plots/confusion_test.png"
        )
    assert answer.status_code == 404
    assert "does not match its recorded sha256" in answer.text


def test_an_unexpected_error_is_a_500_page_without_traceback(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neuroplast.registry import pages

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(pages, "runs_page", broken)
    answer = client.get("/ui/runs")
    assert answer.status_code == 500
    assert "unexpected RuntimeError" in answer.text
    assert "secret internals" not in answer.text and "Traceback" not in answer.text


def test_the_dashboard_alone_imports_no_torch(made_home: Path, tmp_path: Path) -> None:
    home = shutil.copytree(made_home, tmp_path / "home")
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from neuroplast.registry import Registry\n"
        "from neuroplast.cli import ui\n"
        "from neuroplast.ui import standalone_app\n"
        f"client = TestClient(standalone_app(Registry({str(home)!r})))\n"
        f"for path in ('/ui/', '/ui/models/{MODEL}', '/ui/models/{MODEL}/versions/2',\n"
        f"             '/ui/runs', '/ui/runs/1', '/ui/nope'):\n"
        "    assert client.get(path).status_code in (200, 404), path\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not loaded, loaded[:5]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def test_neuroplast_ui_on_a_home_without_registry_is_one_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "neuroplast", "ui", "--home", str(tmp_path / "empty")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 5, done.stderr
    assert done.stderr.startswith(f"error: there is no registry in {tmp_path / 'empty'}")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "empty" / "registry.db").exists()  # the dashboard never writes
