"""A neuromorphic learner served by a real ``neuroplast serve`` (``task_server``): its
answers at ``/predict`` are those of ``neuro infer`` (label, confidence, abstention and the
evidence), they go to the prediction log and take feedback like a classifier's, and the
inputs it cannot read are 4xx errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from neuroplast.continual.neuromorphic.infer import answer_dict, read_images
from neuroplast.continual.neuromorphic.workflow import LEARNER_FILE
from neuroplast.registry import Registry
from tests.serving.conftest import NEURO, TaskServer

pytestmark = pytest.mark.slow  # shares the task server (four tiny models, one server)


def _predict(task_server: TaskServer, top_k: int = 2) -> dict:
    files = {"file": ("digit.png", task_server.digit.read_bytes(), "image/png")}
    with task_server.server.client() as client:
        answer = client.post(f"/v1/models/{NEURO}/predict", files=files, data={"top_k": top_k})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _expected(task_server: TaskServer) -> dict[str, Any]:
    """What ``neuro infer`` answers for the digit: its steps (read the image as the stream
    did, predict, the answer as JSON with the stored examples) on the learner as trained."""
    with Registry(task_server.home) as registry:
        stored = registry.resolve(NEURO).artifacts[LEARNER_FILE].path
    payload = json.loads(Path(stored).read_text())
    shape, value_range = (
        payload["model"]["preprocessing"][k] for k in ("input_shape", "input_range")
    )
    pixels = read_images([task_server.digit], shape, value_range)
    with torch.no_grad():
        (answer,) = task_server.learner.predict(pixels)
    return answer_dict(answer, str(task_server.digit), payload["examples"])


def test_answers_carry_abstention_and_the_evidence_of_neuro_infer(task_server: TaskServer) -> None:
    expected = _expected(task_server)
    body = _predict(task_server)
    (got,) = body["predictions"]
    assert body["version"] == f"{NEURO}:1"
    assert got["label"] == expected["label"]
    assert got["probability"] == pytest.approx(expected["confidence"], rel=1e-5)
    assert got["abstained"] is expected["abstained"]
    ranked = sorted(expected["probabilities"].items(), key=lambda kv: -kv[1])[:2]
    assert [(p["label"], p["probability"]) for p in got["top_k"]] == [
        (label, pytest.approx(p, rel=1e-5)) for label, p in ranked
    ]
    assert got["evidence"], "the answer names the prototypes behind it"
    assert [e["prototype"] for e in got["evidence"]] == [
        e["prototype"] for e in expected["evidence"]
    ]
    first, want = got["evidence"][0], expected["evidence"][0]
    assert first["similarity"] == pytest.approx(want["similarity"], rel=1e-5)
    assert first["examples"] == want["examples"]
    assert first["examples"][0]["input"].startswith("split_mnist task ")


def test_answers_are_logged_and_take_feedback(task_server: TaskServer) -> None:
    body = _predict(task_server, top_k=1)
    label = body["predictions"][0]["label"]
    with task_server.server.client() as client:
        joined = client.post(
            f"/v1/models/{NEURO}/feedback",
            json={"request_id": body["request_id"], "label": task_server.digit_label},
        )
    assert joined.status_code == 200, joined.text
    assert joined.json()["predicted"] == label
    assert joined.json()["correct"] is (label == task_server.digit_label)


@pytest.mark.parametrize(
    ("how", "status", "code", "message"),
    [
        ("json", 422, "invalid_input", r"is an image model: upload images"),
        ("top_k", 422, "invalid_input", r"top_k must be between 1 and 4"),
        ("explain", 400, "wrong_route", r"answers at POST /v1/models/neuro-tiny/predict"),
        ("not-an-image", 422, "invalid_input", r"cannot read upload 0 .* as an image"),
    ],
)
def test_bad_inputs_are_4xx(
    task_server: TaskServer, how: str, status: int, code: str, message: str
) -> None:
    import re

    url = f"/v1/models/{NEURO}/predict"
    png = task_server.digit.read_bytes()
    with task_server.server.client() as client:
        if how == "json":
            answer = client.post(url, json={"inputs": "a digit"})
        elif how == "top_k":
            answer = client.post(url, files={"file": ("d.png", png)}, data={"top_k": 5})
        elif how == "explain":
            answer = client.post(f"/v1/models/{NEURO}/explain", files={"file": ("d.png", png)})
        else:
            answer = client.post(url, files={"file": ("d.png", b"not a png")})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert re.search(message, answer.json()["error"]["message"]), answer.text
