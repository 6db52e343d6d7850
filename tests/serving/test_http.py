"""The HTTP layer: a real ``neuroplast serve`` process (the shared ``server`` fixture) for
what a client sees over the network, and the app from ``Engine.serve`` in-process (Starlette's
TestClient runs its lifespan) for what needs a setting of its own: limits, no admin key, a
gated model load, an A/B split, a small image model."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import load_debian_data, one_torch_thread, small_image_config
from tests.serving.fixtures import API_KEY, IMAGE_MODEL, TEXT_MODEL, Server

DIGITS = "digits-serve"


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The one error shape, with this status and code; the error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "detail"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    return error


def png(array: np.ndarray) -> bytes:
    """uint8 [C, H, W] (C = 1 or 3) as PNG bytes."""
    image = Image.fromarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# ---- the in-process app ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def app_home(serving_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the serving template plus digits-serve:1 in production (8x8 greyscale
    digits, an image model that needs no Debian package)."""
    from neuroplast.engine import Engine

    home = tmp_path_factory.mktemp("http-app") / "home"
    shutil.copytree(serving_template, home)
    with one_torch_thread(), Engine(home) as engine:
        engine.train(small_image_config(DIGITS))
        engine.promote(f"{DIGITS}:1", "production", reason="http tests")
    return home


async def loaded(app: Any) -> None:
    """Wait in the app's loop until its models have loaded (or failed to)."""
    await app.state.serving.loading


def ready_client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        client.portal.call(loaded, app)
        assert client.get("/ready").status_code == 200, client.get("/ready").text
        yield client


@pytest.fixture(scope="module")
def app_client(app_home: Path) -> Iterator[TestClient]:
    """The app of ``Engine.serve`` with small limits and the admin key, models loaded."""
    from neuroplast.engine import Engine

    with Engine(app_home) as engine:
        app = engine.serve(
            [TEXT_MODEL, DIGITS],
            max_body_bytes=20_000,
            max_inputs=4,
            max_text_chars=200,
            max_image_pixels=64 * 64,
            api_key=API_KEY,
        )
        yield from ready_client(app)


# ---- predict -------------------------------------------------------------------------------
def test_predict_texts_over_http(server: Server) -> None:
    texts = ["a gorgeous, witty, seductive movie", "a tedious, boring mess"]
    with server.client() as client:
        one = client.post(f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": texts[0]})
        many = client.post(f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": texts, "top_k": 2})
    assert one.status_code == 200, one.text
    assert many.status_code == 200, many.text
    body = many.json()
    assert body["model"] == TEXT_MODEL
    assert body["version"] == f"{TEXT_MODEL}:1"
    assert body["backend"] == "onnx"
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert body["latency_ms"] > 0
    assert len(body["predictions"]) == 2
    for prediction in body["predictions"]:
        ranked = prediction["top_k"]
        assert len(ranked) == 2
        assert ranked[0]["label"] == prediction["label"]
        assert ranked[0]["probability"] == pytest.approx(prediction["probability"])
        assert ranked[0]["probability"] >= ranked[1]["probability"]
        assert sum(r["probability"] for r in ranked) == pytest.approx(1.0, abs=1e-5)
    # one input or a list of one: the same answer
    assert one.json()["predictions"][0] == {
        **body["predictions"][0],
        "top_k": body["predictions"][0]["top_k"][:1],
    }


def test_predict_matches_the_predictor(server: Server) -> None:
    """The numbers over HTTP are the registered version's own (ONNX Runtime, same graph)."""
    from neuroplast.inference.registered import registered_predictor
    from neuroplast.registry import Registry

    texts = ["an utterly charming and hilarious film", "dull, flat and far too long"]
    with server.client() as client:
        body = client.post(f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": texts}).json()
    with Registry(server.home, read_only=True) as registry:
        expected = registered_predictor(registry, f"{TEXT_MODEL}:1", backend="onnx").predict(texts)
    for got, want in zip(body["predictions"], expected, strict=True):
        assert got["label"] == want.label
        assert got["probability"] == pytest.approx(want.probability, abs=1e-5)


def test_predict_fashion_mnist_upload(server: Server) -> None:
    from neuroplast.inference.registered import registered_predictor
    from neuroplast.registry import Registry

    data = load_debian_data("fashion_mnist", limit=50, seed=2)  # skips (or fails in CI)
    images = np.asarray(data.images[:3])
    files = [("file", (f"item{i}.png", png(img), "image/png")) for i, img in enumerate(images)]
    with server.client() as client:
        reply = client.post(f"/v1/models/{IMAGE_MODEL}/predict", files=files, data={"top_k": "3"})
    assert reply.status_code == 200, reply.text
    with Registry(server.home, read_only=True) as registry:
        expected = registered_predictor(registry, f"{IMAGE_MODEL}:1", backend="onnx").predict(
            images
        )
    got = reply.json()["predictions"]
    assert [p["label"] for p in got] == [p.label for p in expected]
    assert all(len(p["top_k"]) == 3 for p in got)


def test_image_upload_is_converted_like_load_image_files(
    app_client: TestClient, tmp_path: Path
) -> None:
    """An RGB upload of another size is made greyscale and 8x8 exactly as the CLI's
    ``load_image_files`` does, so the answer is the one ``Engine.predict`` gives."""
    from neuroplast.engine import Engine
    from neuroplast.inference.base import load_image_files

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(3, 24, 24), dtype=np.uint8)
    path = tmp_path / "rgb.png"
    path.write_bytes(png(rgb))
    reply = app_client.post(
        f"/v1/models/{DIGITS}/predict",
        files=[("file", ("rgb.png", path.read_bytes(), "image/png"))],
        data={"top_k": "10"},
    )
    assert reply.status_code == 200, reply.text
    array = load_image_files([path], channels=1, size=8)
    home = app_client.app.state.serving.registry.home  # type: ignore[attr-defined]
    with Engine(home) as engine:
        want = engine.predict(f"{DIGITS}:1", array, top_k=10)[0]
    got = reply.json()["predictions"][0]
    assert got["label"] == want.label
    assert got["probability"] == pytest.approx(want.probability, abs=1e-4)


def test_sticky_key_header_and_body(app_client: TestClient) -> None:
    url = f"/v1/models/{TEXT_MODEL}/predict"
    by_header = app_client.post(
        url, json={"inputs": "fine"}, headers={"X-Neuroplast-Key": "user-1"}
    )
    by_body = app_client.post(url, json={"inputs": "fine", "key": "user-1"})
    assert by_header.status_code == by_body.status_code == 200


# ---- explain and feedback ---------------------------------------------------------------------
def test_explain_text(server: Server) -> None:
    with server.client() as client:
        reply = client.post(
            f"/v1/models/{TEXT_MODEL}/explain", json={"input": "a witty and gorgeous film"}
        )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["version"] == f"{TEXT_MODEL}:1"
    assert body["tokens"] and len(body["tokens"]) == len(body["attributions"])
    assert body["overlay_png"] is None
    assert 0.0 <= body["probability"] <= 1.0


def test_explain_image(app_client: TestClient) -> None:
    image = np.random.default_rng(1).integers(0, 256, size=(1, 8, 8), dtype=np.uint8)
    reply = app_client.post(
        f"/v1/models/{DIGITS}/explain", files=[("file", ("x.png", png(image), "image/png"))]
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["tokens"] is None and body["overlay_png"]


def test_feedback_joins_the_prediction(server: Server) -> None:
    from neuroplast.registry import Registry

    with server.client() as client:
        answer = client.post(
            f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": ["one", "two"]}
        ).json()
        request_id = answer["request_id"]
        ok = client.post(
            f"/v1/models/{TEXT_MODEL}/feedback",
            json={"request_id": request_id, "label": "fresh", "item": 1},
        )
        unknown = client.post(
            f"/v1/models/{TEXT_MODEL}/feedback",
            json={"request_id": "0" * 32, "label": "fresh"},
        )
        no_item = client.post(
            f"/v1/models/{TEXT_MODEL}/feedback",
            json={"request_id": request_id, "label": "fresh", "item": 2},
        )
        other_model = client.post(
            "/v1/models/fm-serve/feedback", json={"request_id": request_id, "label": "fresh"}
        )
        bad_label = client.post(
            f"/v1/models/{TEXT_MODEL}/feedback",
            json={"request_id": request_id, "label": "lukewarm"},
        )
        new_class = client.post(
            f"/v1/models/{TEXT_MODEL}/feedback",
            json={"request_id": request_id, "label": "lukewarm", "new_class": True},
        )
    assert ok.status_code == 200, ok.text
    predicted = answer["predictions"][1]["label"]
    assert ok.json() == {
        "request_id": request_id,
        "item": 1,
        "label": "fresh",
        "version": f"{TEXT_MODEL}:1",
        "predicted": predicted,
        "correct": predicted == "fresh",
        "new_class": False,
    }
    assert new_class.status_code == 200, new_class.text
    assert new_class.json()["new_class"] is True and new_class.json()["correct"] is False
    assert_error(unknown, 404, "unknown_request")
    assert "no item 2" in assert_error(no_item, 422, "invalid_input")["message"]
    assert other_model.status_code == 404  # answered by rt-serve (or fm-serve is not served)
    message = assert_error(bad_label, 422, "invalid_input")["message"]
    assert "lukewarm" in message and "new_class true" in message
    with Registry(server.home, read_only=True) as registry:
        rows = [r for r in registry.predictions(TEXT_MODEL) if r.request_id == request_id]
    assert sorted(r.item for r in rows) == [0, 1]


# ---- models, health, ready, metrics, openapi ------------------------------------------------
def test_models_listing(server: Server) -> None:
    with server.client() as client:
        listing = client.get("/v1/models").json()["models"]
        one = client.get(f"/v1/models/{TEXT_MODEL}")
    text = next(m for m in listing if m["name"] == TEXT_MODEL)
    assert one.json() == text
    assert text["version"] == f"{TEXT_MODEL}:1"
    assert text["labels"] == ["rotten", "fresh"]
    assert text["input"]["kind"] == "text" and text["input"]["max_length"] == 40
    assert text["arms"] == {} and text["shadows"] == []


def test_health_and_ready(server: Server) -> None:
    with server.client() as client:
        health = client.get("/health").json()
        ready = client.get("/ready").json()
    assert health["status"] == "ok" and health["ready"] is True
    assert TEXT_MODEL in ready["models"]


def test_ready_is_503_until_every_model_is_loaded(app_home: Path) -> None:
    """A real pool whose start waits on a gate: /health answers, /ready and predict say 503."""
    from neuroplast.registry import Registry
    from neuroplast.serving.app import create_app
    from neuroplast.serving.pool import ModelPool, ServeSettings

    gate = asyncio.Event()

    class GatedPool(ModelPool):
        async def start(self) -> None:
            await gate.wait()
            await super().start()

    with Registry(app_home) as registry:
        pool = GatedPool(registry, [TEXT_MODEL], ServeSettings(warm=False))
        app = create_app(registry, [TEXT_MODEL], pool=pool)
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get("/health").json()["ready"] is False
            assert_error(client.get("/ready"), 503, "not_ready")
            waiting = client.post(f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": "x"})
            assert_error(waiting, 503, "not_ready")
            client.portal.call(gate.set)
            client.portal.call(loaded, app)
            assert client.get("/ready").status_code == 200


def test_metrics_scrape(server: Server) -> None:
    with server.client() as client:
        for _ in range(3):
            client.post(f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": ["a", "b", "c"]})
        client.post("/v1/models/no-such-model/predict", json={"inputs": "a"})
        reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    text = reply.text

    def value(name: str, **labels: str) -> float:
        """The sample ``name{labels}`` (labels in Prometheus' sorted order)."""
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        match = re.search(re.escape(f"{name}{{{inner}}}") + r" ([0-9.e+]+)$", text, re.MULTILINE)
        assert match, f"{name}{{{inner}}} not in:\n{text[:3000]}"
        return float(match.group(1))

    version = f"{TEXT_MODEL}:1"
    ours = {"model": TEXT_MODEL, "version": version}
    assert value("neuroplast_requests_total", endpoint="predict", status="200", **ours) >= 3
    unknown = {"model": "", "version": "", "endpoint": "predict"}
    assert value("neuroplast_errors_total", code="model_not_served", **unknown) >= 1
    assert value("neuroplast_batch_size_count", **ours) >= 1
    assert value("neuroplast_batch_size_sum", **ours) >= 9
    assert value("neuroplast_queue_depth", **ours) >= 0
    assert value("neuroplast_request_seconds_count", endpoint="predict", **ours) >= 3


def test_openapi_documents_every_route_and_error(server: Server) -> None:
    with server.client() as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
        page = client.get("/")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    paths = spec["paths"]
    for path in (
        "/v1/models/{name}/predict",
        "/v1/models/{name}/explain",
        "/v1/models/{name}/feedback",
        "/v1/models",
        "/v1/models/{name}",
        "/health",
        "/ready",
        "/metrics",
        "/v1/admin/reload",
        "/v1/models/{name}/ab",
    ):
        assert path in paths, sorted(paths)
    predict = paths["/v1/models/{name}/predict"]["post"]
    assert set(predict["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (
                        path,
                        method,
                        status,
                    )
    assert "HTTPValidationError" not in spec["components"]["schemas"]


# ---- errors: one JSON shape ----------------------------------------------------------------
def test_error_shape_over_http(server: Server) -> None:
    url = f"/v1/models/{TEXT_MODEL}/predict"
    with server.client() as client:
        assert_error(client.get("/no/such/route"), 404, "not_found")
        unknown = client.post("/v1/models/nope/predict", json={"inputs": "x"})
        assert TEXT_MODEL in assert_error(unknown, 404, "model_not_served")["message"]
        wrong_method = client.delete("/health")
        assert_error(wrong_method, 405, "method_not_allowed")
        assert wrong_method.headers["allow"] == "GET"
        assert_error(client.get(url), 405, "method_not_allowed")
        assert_error(
            client.post(url, content=b"x", headers={"content-type": "text/plain"}),
            415,
            "unsupported_media_type",
        )
        assert_error(
            client.post(url, content=b"{not json", headers={"content-type": "application/json"}),
            422,
            "invalid_json",
        )
        invalid = client.post(url, json={"inputs": "x", "top_k": 0, "extra": 1})
        detail = assert_error(invalid, 422, "invalid_request")["detail"]
        assert {tuple(d["loc"]) for d in detail} == {("top_k",), ("extra",)}
        assert_error(client.post(url, json={"inputs": []}), 422, "invalid_input")
        assert_error(client.post(url, json={"inputs": "x", "top_k": 3}), 422, "invalid_input")
        image_to_text = client.post(url, files=[("file", ("a.png", b"\x89PNG", "image/png"))])
        assert "text model" in assert_error(image_to_text, 422, "invalid_input")["message"]
        assert_error(
            client.post(f"/v1/models/{TEXT_MODEL}/feedback", json={"label": "fresh"}),
            422,
            "invalid_request",
        )


def test_bad_uploads(app_client: TestClient) -> None:
    url = f"/v1/models/{DIGITS}/predict"
    garbage = app_client.post(url, files=[("file", ("x.png", b"not an image", "image/png"))])
    assert "upload 0 (x.png)" in assert_error(garbage, 422, "invalid_input")["message"]
    huge = np.zeros((1, 65, 65), np.uint8)
    too_big = app_client.post(url, files=[("file", ("big.png", png(huge), "image/png"))])
    assert "4,096" in assert_error(too_big, 422, "invalid_input")["message"]
    text_to_image = app_client.post(url, json={"inputs": "a digit"})
    assert "multipart" in assert_error(text_to_image, 422, "invalid_input")["message"]
    no_file = app_client.post(url, data={"top_k": "1"}, files=[("other", ("a", b"a"))])
    assert_error(no_file, 422, "invalid_input")
    bad_top_k = app_client.post(
        url, files=[("file", ("a.png", png(huge[:, :8, :8]), "image/png"))], data={"top_k": "x"}
    )
    assert "top_k" in assert_error(bad_top_k, 422, "invalid_input")["message"]


# ---- limits --------------------------------------------------------------------------------
def test_limits(app_client: TestClient) -> None:
    url = f"/v1/models/{TEXT_MODEL}/predict"
    declared = app_client.post(url, json={"inputs": ["x" * 100] * 300})
    assert "20,000 bytes" in assert_error(declared, 413, "body_too_large")["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"inputs": ["'
        for _ in range(30):
            yield b"y" * 1000
        yield b'"]}'

    streamed = app_client.post(url, content=chunks(), headers={"content-type": "application/json"})
    assert_error(streamed, 413, "body_too_large")
    too_many = app_client.post(url, json={"inputs": ["a"] * 5})
    assert "limit of 4" in assert_error(too_many, 422, "invalid_input")["message"]
    too_long = app_client.post(url, json={"inputs": ["ok", "z" * 201]})
    assert "input 1 has 201" in assert_error(too_long, 422, "invalid_input")["message"]
    files = [
        ("file", (f"{i}.png", png(np.zeros((1, 8, 8), np.uint8)), "image/png")) for i in range(5)
    ]
    too_many_files = app_client.post(f"/v1/models/{DIGITS}/predict", files=files)
    assert_error(too_many_files, 422, "invalid_input")
    assert app_client.post(url, json={"inputs": ["a"] * 4}).status_code == 200


# ---- admin ---------------------------------------------------------------------------------
def test_admin_needs_the_key(server: Server) -> None:
    with server.client() as client:
        missing = client.post("/v1/admin/reload")
        wrong = client.post("/v1/admin/reload", headers={"Authorization": "Bearer nope"})
        ok = client.post("/v1/admin/reload", headers=server.admin)
    assert_error(missing, 401, "unauthorized")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_error(wrong, 401, "unauthorized")
    assert ok.status_code == 200, ok.text
    assert ok.json()["changed"] is False


def test_admin_is_off_without_a_key(app_home: Path) -> None:
    from neuroplast.engine import Engine

    with Engine(app_home) as engine:
        app = engine.serve([TEXT_MODEL], api_key="", warm=False)
        with TestClient(app, raise_server_exceptions=False) as client:
            reply = client.post("/v1/admin/reload", headers={"Authorization": "Bearer x"})
            message = assert_error(reply, 403, "admin_disabled")["message"]
            assert "NEUROPLAST_API_KEY" in message
            stop = client.delete(f"/v1/models/{TEXT_MODEL}/ab")
            assert_error(stop, 403, "admin_disabled")


def test_ab_split_over_admin_routes(app_client: TestClient) -> None:
    admin = {"Authorization": f"Bearer {API_KEY}"}
    url = f"/v1/models/{TEXT_MODEL}/ab"
    assert_error(app_client.post(url, json={"split": {"1": 0.5, "2": 0.5}}), 401, "unauthorized")
    started = app_client.post(
        url, json={"split": {"1": 0.5, "2": 0.5}, "sticky_key": "user"}, headers=admin
    )
    assert started.status_code == 200, started.text
    assert started.json()["split"] == {"1": 0.5, "2": 0.5}
    info = app_client.get(f"/v1/models/{TEXT_MODEL}").json()
    assert info["arms"] == {f"{TEXT_MODEL}:1": 0.5, f"{TEXT_MODEL}:2": 0.5}
    predict = f"/v1/models/{TEXT_MODEL}/predict"
    versions = {
        key: {
            app_client.post(predict, json={"inputs": "fine", "key": key}).json()["version"]
            for _ in range(5)
        }
        for key in ("alice", "bob", "carol", "dave", "erin", "frank")
    }
    assert all(len(v) == 1 for v in versions.values()), versions  # sticky per key
    assert set().union(*versions.values()) <= {f"{TEXT_MODEL}:1", f"{TEXT_MODEL}:2"}
    bad = app_client.post(url, json={"split": {"one": 1.0}}, headers=admin)
    assert_error(bad, 422, "invalid_input")
    stopped = app_client.delete(url, headers=admin)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["split"] == {}
    again = app_client.delete(url, headers=admin)
    assert "no A/B test running" in assert_error(again, 409, "conflict")["message"]
    assert app_client.get(f"/v1/models/{TEXT_MODEL}").json()["arms"] == {}


def test_engine_serve_refuses_bad_options(app_home: Path, tmp_path: Path) -> None:
    from neuroplast.engine import Engine
    from neuroplast.errors import ConfigError

    with Engine(app_home) as engine:
        with pytest.raises(ConfigError, match=r"unknown serve option max_batches; .*max_batch"):
            engine.serve([TEXT_MODEL], max_batches=8)
        with pytest.raises(ConfigError, match="max_inputs must be a whole number >= 1"):
            engine.serve([TEXT_MODEL], max_inputs=0)
        with pytest.raises(ConfigError, match="no model named 'nope'"):
            engine.serve(["nope"])
    with Engine(tmp_path / "empty") as engine, pytest.raises(ConfigError, match="production"):
        engine.serve()


def test_every_error_kind_has_the_one_shape() -> None:
    """The handlers on their own: each error the runtime or a defect can raise becomes its
    status and code, QueueFull says when to retry, and a crash shows no traceback."""
    from fastapi import FastAPI

    from neuroplast.errors import ConfigError, DataError, ModelNotFoundError, RegistryError
    from neuroplast.serving._http_errors import install_error_handlers
    from neuroplast.serving.errors import NotReady, QueueFull

    raised: dict[str, Exception] = {
        "full": QueueFull("rt:1: 64 inputs are waiting", retry_after=0.3, detail={"depth": 64}),
        "ready": NotReady("still loading"),
        "data": DataError("input 0 is empty"),
        "config": ConfigError("unknown method 'x'"),
        "missing": ModelNotFoundError("no model 'x'"),
        "registry": RegistryError("database is locked"),
        "bug": ZeroDivisionError("division by zero"),
    }
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{kind}")
    async def boom(kind: str) -> None:
        raise raised[kind]

    expected = {
        "full": (503, "queue_full"),
        "ready": (503, "not_ready"),
        "data": (422, "invalid_input"),
        "config": (422, "invalid_option"),
        "missing": (404, "not_found"),
        "registry": (500, "server_error"),
        "bug": (500, "internal_error"),
    }
    with TestClient(app, raise_server_exceptions=False) as client:
        for kind, (status, code) in expected.items():
            reply = client.get(f"/raise/{kind}")
            error = assert_error(reply, status, code)
            if kind == "full":
                assert reply.headers["retry-after"] == "1"
                assert error["detail"] == {"depth": 64}
            if kind == "bug":
                assert "Traceback" not in reply.text and "division" not in reply.text
                assert "ZeroDivisionError" in error["message"]
