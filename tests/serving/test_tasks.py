"""Anomaly detection, forecasting and text generation served by a real ``neuroplast serve``
(``task_server``): each route answers what ``neuroplast predict`` / ``generate`` computes for
the same version, the listing and the OpenAPI page describe them, every kind of bad input is
a 4xx JSON error, and a task model cannot share an A/B split with a classifier."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from neuroplast.registry import Registry
from neuroplast.tasks import task_handler
from tests.serving.conftest import ANOMALY, FORECAST, LM, TaskServer
from tests.serving.fixtures import TEXT_MODEL

pytestmark = pytest.mark.slow  # trains four tiny models and starts a server (session-wide)

ROWS = [[37, 0, 76, 0, 28, 18, 40, 48, 8], [55, 0, 81, 0, -6, 11, 25, 88, 64]]
COLUMNS = [f"f{i}" for i in range(1, 10)]


def post(task_server: TaskServer, path: str, body: Any) -> httpx.Response:
    with task_server.server.client() as client:
        return client.post(f"/v1/models/{path}", json=body)


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code, body
    return str(body["message"])


def test_the_listing_and_openapi_describe_each_task(task_server: TaskServer) -> None:
    with task_server.server.client() as client:
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        spec = client.get("/openapi.json").json()
    assert models[ANOMALY]["task"] == "anomaly_detection"
    assert models[ANOMALY]["route"] == f"/v1/models/{ANOMALY}/score"
    assert models[ANOMALY]["input"]["kind"] == "tabular"
    assert models[ANOMALY]["details"]["columns"] == COLUMNS
    assert models[FORECAST]["details"]["horizon"] == 12
    assert models[FORECAST]["details"]["lookback"] == 24
    assert models[LM]["task"] == "generation" and models[LM]["details"]["max_tokens_limit"] == 1024
    assert models[TEXT_MODEL]["task"] == "classification"
    assert models[TEXT_MODEL]["route"] == f"/v1/models/{TEXT_MODEL}/predict"
    for route in ("score", "forecast", "generate"):
        assert f"/v1/models/{{name}}/{route}" in spec["paths"]
    schemas = spec["components"]["schemas"]
    assert {"ForecastRequest", "GenerateRequest", "ScoreResponse"} <= set(schemas)
    assert schemas["GenerateRequest"]["additionalProperties"] is False
    score_body = spec["paths"]["/v1/models/{name}/score"]["post"]["requestBody"]["content"]
    assert set(score_body) == {"application/json", "multipart/form-data"}


def test_scores_are_those_of_predict_with_the_stored_threshold(
    task_server: TaskServer, tmp_path: Any
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(",".join(COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS))
    with Registry(task_server.home) as registry:
        expected = task_handler("anomaly_detection").predict(registry, ANOMALY, file=path)
    answer = post(task_server, f"{ANOMALY}/score", {"inputs": ROWS})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == f"{ANOMALY}:1"
    assert body["threshold"] == pytest.approx(expected.document["threshold"])
    scores = [r["score"] for r in body["results"]]
    assert scores == pytest.approx([r["score"] for r in expected.document["rows"]], rel=1e-5)
    assert [r["is_anomaly"] for r in body["results"]] == [s > body["threshold"] for s in scores]
    keyed = [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]
    again = post(task_server, f"{ANOMALY}/score", {"inputs": keyed}).json()
    assert [r["score"] for r in again["results"]] == pytest.approx(scores)


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"inputs": [ROWS[0][:8]]}, 422, "invalid_input", r"8 values; .* reads 9 columns"),
        ({"inputs": [["a", *ROWS[0][1:]]]}, 422, "invalid_request", r"valid number"),
        ({"inputs": [["37", *ROWS[0][1:]]]}, 422, "invalid_request", r"valid number"),
        ({"inputs": ROWS, "threshold": 1}, 422, "invalid_request", r"threshold: Extra inputs"),
        ({"inputs": [{"f1": 1}]}, 422, "invalid_input", r"columns f2, .* missing"),
        ({"inputs": []}, 422, "invalid_request", r"at least 1 item"),
        ({"inputs": ROWS, "series": [1.0]}, 422, "invalid_input", r"send one of"),
        ({"series": [1.0, 2.0]}, 422, "invalid_input", r"`series` is for series"),
        ({"inputs": ROWS * 513}, 422, "invalid_input", r"1,026 inputs .* limit of 1,024"),
        ({"inputs": [[1e300] * 9]}, 422, "invalid_input", r"scores overflow .* too far outside"),
    ],
)
def test_bad_anomaly_inputs_are_4xx(
    task_server: TaskServer, body: dict[str, Any], status: int, code: str, message: str
) -> None:
    import re

    text = error(post(task_server, f"{ANOMALY}/score", body), status, code)
    assert re.search(message, text), text


def test_non_finite_values_and_image_uploads_are_refused_for_rows(
    task_server: TaskServer,
) -> None:
    with task_server.server.client() as client:
        raw = '{"inputs": [[NaN, 0, 76, 0, 28, 18, 40, 48, 8]]}'
        headers = {"content-type": "application/json"}
        nan = client.post(f"/v1/models/{ANOMALY}/score", content=raw, headers=headers)
        files = {"file": ("d.png", task_server.digit.read_bytes(), "image/png")}
        image = client.post(f"/v1/models/{ANOMALY}/score", files=files)
    assert "NaN or infinite" in error(nan, 422, "invalid_input")
    assert "send JSON" in error(image, 422, "invalid_input")


def test_forecasts_follow_the_stored_tail_or_the_history_sent(task_server: TaskServer) -> None:
    with Registry(task_server.home) as registry:
        expected = task_handler("forecasting").predict(registry, FORECAST, horizon=5)
        state = json.loads(registry.resolve(FORECAST).artifacts["task.json"].path.read_text())
    stored = post(task_server, f"{FORECAST}/forecast", {"horizon": 5})
    assert stored.status_code == 200, stored.text
    body = stored.json()
    assert body["source"] == "stored" and body["interval"] == {
        "method": "residual_bootstrap",
        "level": 0.9,
    }
    want = expected.document["forecast"]
    for key in ("value", "lower", "upper"):
        assert [p[key] for p in body["forecast"]] == pytest.approx([p[key] for p in want])
    assert [p["date"] for p in body["forecast"]] == [p["date"] for p in want]
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in body["forecast"])
    # the stored tail sent back as a history, dated: the same forecast
    history = [row[0] for row in state["tail"]]
    sent = {"horizon": 5, "history": history, "last_date": state["last_date"]}
    same = post(task_server, f"{FORECAST}/forecast", sent).json()
    assert same["source"] == "request"
    assert [p["value"] for p in same["forecast"]] == pytest.approx([p["value"] for p in want])
    assert [p["date"] for p in same["forecast"]] == [p["date"] for p in want]
    lifted = post(task_server, f"{FORECAST}/forecast", {"history": [v + 10 for v in history]})
    points = lifted.json()["forecast"]
    assert len(points) == 12 and points[0]["date"] is None  # no last_date: no dates
    assert points[0]["value"] > body["forecast"][0]["value"] + 2  # a higher series, higher


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"horizon": 13}, "invalid_input", r"horizon 13: .* forecasts 1 to 12 points"),
        ({"horizon": 0}, "invalid_request", r"greater than or equal to 1"),
        ({"history": [1.0, 2.0, 3.0]}, "invalid_input", r"history has 3 points; .* last 24"),
        ({"history": ["x"] * 30}, "invalid_request", r"valid number"),
        ({"history": [[1.0, 2.0]] * 30}, "invalid_input", r"rows have 2 values; .* reads 1"),
        ({"history": [[1.0], [1.0, 2.0]] * 15}, "invalid_input", r"must all have the same width"),
        ({"history": [1e300] * 30}, "invalid_input", r"forecast overflow .* too far outside"),
        ({"last_date": "2001-12-01"}, "invalid_input", r"last_date .* goes with history"),
        ({"history": [1.0] * 30, "last_date": "soon"}, "invalid_input", r"not a date"),
        ({"steps": 3}, "invalid_request", r"steps: Extra inputs"),
    ],
)
def test_bad_forecast_requests_are_4xx(
    task_server: TaskServer, body: dict[str, Any], code: str, message: str
) -> None:
    import re

    text = error(post(task_server, f"{FORECAST}/forecast", body), 422, code)
    assert re.search(message, text), text


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_generation_is_the_cli_text_for_a_seed_and_streams_the_same(
    task_server: TaskServer,
) -> None:
    options = {"prompt": "The ", "max_tokens": 24, "seed": 3, "temperature": 0.8, "top_k": 20}
    with Registry(task_server.home) as registry:
        cli = task_handler("generation").predict(registry, LM, **options)
    expected = cli.document["outputs"][0]["text"]
    answer = post(task_server, f"{LM}/generate", options)
    assert answer.status_code == 200, answer.text
    assert answer.json()["text"] == expected and answer.json()["prompt"] == "The "
    with task_server.server.client() as client:
        streamed = client.post(f"/v1/models/{LM}/generate", json={**options, "stream": True})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = _events(streamed.text)
    pieces = [data["text"] for name, data in events if name == "piece"]
    assert len(pieces) > 1 and "".join(pieces) == expected
    assert events[-1][0] == "done" and events[-1][1]["text"] == expected
    greedy = post(task_server, f"{LM}/generate", {**options, "temperature": 0, "seed": 9})
    again = post(task_server, f"{LM}/generate", {**options, "temperature": 0, "seed": 1})
    assert greedy.json()["text"] == again.json()["text"]  # greedy ignores the seed


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"prompt": ""}, "invalid_request", r"at least 1 character"),
        ({"prompt": "   "}, "invalid_request", r"prompt is blank"),
        ({"prompt": "A", "max_tokens": 5000}, "invalid_request", r"less than or equal to 1024"),
        ({"prompt": "A", "temperature": -1}, "invalid_request", r"greater than or equal to 0"),
        ({"prompt": "A", "top_p": 0}, "invalid_request", r"greater than 0"),
        ({"prompt": "A", "top_k": 0}, "invalid_request", r"greater than or equal to 1"),
        ({"prompt": "A", "beam": 2}, "invalid_request", r"beam: Extra inputs"),
        ({"prompt": "\u4e00\u4e01"}, "invalid_input", r"no character this model knows"),
        ({"prompt": "A" * 10_001}, "invalid_input", r"10,001 characters, more than the limit"),
    ],
)
def test_bad_generation_requests_are_4xx(
    task_server: TaskServer, body: dict[str, Any], code: str, message: str
) -> None:
    import re

    text = error(post(task_server, f"{LM}/generate", body), 422, code)
    assert re.search(message, text), text


@pytest.mark.parametrize(
    ("path", "body", "right"),
    [
        (f"{FORECAST}/predict", {"inputs": "a text"}, "forecast"),
        (f"{LM}/score", {"inputs": [[1.0]]}, "generate"),
        (f"{TEXT_MODEL}/forecast", {}, "predict"),
        (f"{ANOMALY}/generate", {"prompt": "A"}, "score"),
        (f"{ANOMALY}/explain", {"input": "a text"}, "score"),
    ],
)
def test_a_route_of_another_kind_names_the_right_one(
    task_server: TaskServer, path: str, body: dict[str, Any], right: str
) -> None:
    name = path.split("/")[0]
    message = error(post(task_server, path, body), 400, "wrong_route")
    assert f"POST /v1/models/{name}/{right}" in message


def test_task_answers_take_no_feedback(task_server: TaskServer) -> None:
    body = {"request_id": "abc", "label": "x"}
    message = error(post(task_server, f"{FORECAST}/feedback", body), 400, "wrong_route")
    assert "not in the prediction log" in message


def test_an_ab_split_of_a_classifier_and_a_task_model_is_refused(task_server: TaskServer) -> None:
    server = task_server.server
    with server.client(headers=server.admin) as client:
        refused = client.post(f"/v1/models/{TEXT_MODEL}/ab", json={"split": {"1": 0.5, "3": 0.5}})
        fine = client.post(f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": "a witty film"})
    message = error(refused, 409, "mixed_tasks")
    assert f"{TEXT_MODEL}:1 is a classifier" in message
    assert f"{TEXT_MODEL}:3 is a text generation model" in message
    assert fine.status_code == 200 and fine.json()["version"] == f"{TEXT_MODEL}:1"


def test_a_mixed_split_made_in_the_registry_is_not_served(task_server: TaskServer) -> None:
    """`neuroplast ab start` does not know the kinds: the server refuses to load the split,
    keeps answering with the classifier alone and says why in its log."""
    server = task_server.server
    with Registry(task_server.home) as registry:
        registry.start_ab(TEXT_MODEL, {1: 0.5, 3: 0.5}, reason="a mixed split")
    try:
        with server.client(headers=server.admin) as client:
            assert client.post("/v1/admin/reload").status_code == 200
            versions = {
                client.post(
                    f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": "a film", "key": f"u{i}"}
                ).json()["version"]
                for i in range(12)
            }
            listed = client.get(f"/v1/models/{TEXT_MODEL}").json()
    finally:
        with Registry(task_server.home) as registry:
            registry.stop_ab(TEXT_MODEL, reason="end of the test")
    assert versions == {f"{TEXT_MODEL}:1"} and listed["arms"] == {}
    assert f"cannot load {TEXT_MODEL}:3" in server.output()


def test_fuzzing_the_task_routes_finds_no_5xx(task_server: TaskServer) -> None:
    """The fuzzer of test_fuzz.py on the three task routes, each on its own kind of model:
    generated bodies, valid and invalid (only invalid ones for generation, whose valid
    requests may ask for 1,024 tokens each); no 5xx, and every 4xx has the error shape."""
    import requests
    import schemathesis
    from schemathesis import GenerationMode

    from tests.serving.test_fuzz import Tally, fuzz_operation

    url = task_server.server.url
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    models = {"score": ANOMALY, "forecast": FORECAST, "generate": LM}
    tally = Tally()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            route = operation.path.rsplit("/", 1)[-1]
            if route not in models:
                continue
            modes = [GenerationMode.NEGATIVE]  # valid generations take seconds each
            if route != "generate":
                modes.append(GenerationMode.POSITIVE)
            for mode in modes:
                fuzz_operation(
                    operation,
                    mode,
                    url=url,
                    headers={},
                    session=session,
                    tally=tally,
                    name=models[route],
                    examples=6,
                )
    assert not tally.problems, tally.report()
    assert set(tally.by_operation) == {f"POST /v1/models/{{name}}/{r}" for r in models}
    assert tally.sent >= 12, tally.by_operation
