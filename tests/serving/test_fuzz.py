"""Fuzzing the running server from its own OpenAPI document (schemathesis): over 1,000
generated requests, valid and invalid, across every operation; no answer is a 5xx and every
4xx carries the one error shape ``{"error": {"code", "message", "detail"}}``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.serving.fixtures import Server

pytestmark = pytest.mark.slow

#: Requests the whole run must send at least (the issue asks for 1,000+).
MIN_REQUESTS = 1_000
#: Examples per operation and generation mode; operations with few possible inputs
#: (no parameters) stop early, so this is set for the sum to pass MIN_REQUESTS (90 sent
#: 2,080 requests, twice the minimum, for 171 s of a loaded CI run; 60 sends about 1,400).
EXAMPLES = 60
#: The task models' routes: on this server of classifiers every request to them ends in body
#: validation or ``wrong_route``; ``test_tasks.py`` fuzzes them on the task models instead.
TASK_ROUTES = ("/score", "/forecast", "/generate")
#: The operations the contract lists: predict, explain, feedback, models, model, health, ready,
#: metrics, reload, A/B start and stop, the page.
MIN_OPERATIONS = 10


@dataclass
class Tally:
    sent: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    #: (operation, status, what) -> how many times, and one request that got it
    problems: dict[tuple[str, int, str], tuple[int, str]] = field(default_factory=dict)

    def check(self, case: Any, response: Any) -> None:
        label = f"{case.operation.label}"
        self.sent += 1
        self.by_operation[label] = self.by_operation.get(label, 0) + 1
        status = response.status_code
        if status >= 500:
            self._problem(label, status, _code(response) or response.text[:80], case, response)
        elif status >= 400 and not _error_shape(response):
            self._problem(label, status, "not the error shape", case, response)

    def _problem(self, label: str, status: int, what: str, case: Any, response: Any) -> None:
        key = (label, status, what)
        count, example = self.problems.get(key, (0, f"{_curl(case)} -> {response.text[:300]}"))
        self.problems[key] = (count + 1, example)

    def report(self) -> str:
        return "\n".join(
            f"{count} x {status} ({what}) on {label}, e.g. {example}"
            for (label, status, what), (count, example) in self.problems.items()
        )


def _code(response: Any) -> str | None:
    try:
        return str(json.loads(response.content)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def _curl(case: Any) -> str:
    try:
        return str(case.as_curl_command())
    except Exception:  # a case schemathesis cannot print still has a method and path
        return f"{case.method} {case.formatted_path}"


def _error_shape(response: Any) -> bool:
    content_type = response.headers.get("content-type", [""])  # schemathesis: name -> values
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if not content_type.startswith("application/json"):
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(body, dict)
        and set(body) == {"error"}
        and isinstance(error, dict)
        and {"code", "message", "detail"} <= set(error)
        and isinstance(error["code"], str)
        and isinstance(error["message"], str)
        and bool(error["message"])
    )


@pytest.fixture(scope="module")
def fuzzed(start_server_module: Any) -> Server:
    """A server of its own: the fuzzer may start A/B splits and reload with the admin key."""
    return start_server_module()


@pytest.fixture(scope="module")
def start_server_module(
    serving_template: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from tests.serving.fixtures import copy_home, launch

    started: list[Server] = []

    def start(*args: str) -> Server:
        root = tmp_path_factory.mktemp("fuzzed")
        running = launch(copy_home(serving_template, root / "home"), *args, log_dir=root)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def fuzz_operation(
    operation: Any,
    mode: Any,
    *,
    url: str,
    headers: dict[str, str],
    session: Any,
    tally: Tally,
    name: str | None = None,
    examples: int = EXAMPLES // 2,
) -> None:
    """Send up to ``examples`` generated requests for one operation and mode (``name``: the
    model in the path, so that the bodies reach the model instead of a 404)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable

    fixed = {"path_parameters": {"name": name}} if name is not None else {}
    strategy = operation.as_strategy(generation_mode=mode, **fixed)

    @settings(  # one order of cases each run; no shrinking (every problem is collected)
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def send(case: Any) -> None:
        tally.check(case, case.call(base_url=url, session=session, headers=headers, timeout=60))

    with contextlib.suppress(Unsatisfiable):  # e.g. no invalid request for a GET without inputs
        send()


def test_fuzz_the_openapi_document(fuzzed: Server) -> None:
    import requests
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if not op.path.endswith(TASK_ROUTES)
    ]
    assert len(operations) >= MIN_OPERATIONS, [op.label for op in operations]
    tally = Tally()
    served = [m["name"] for m in httpx.get(f"{fuzzed.url}/v1/models", timeout=30).json()["models"]]
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    with requests.Session() as session:
        for operation in operations:
            for mode in modes:
                for headers in (fuzzed.admin, {}):  # with and without the admin key
                    fuzz_operation(
                        operation,
                        mode,
                        url=fuzzed.url,
                        headers=headers,
                        session=session,
                        tally=tally,
                    )
                if "{name}" in operation.path:  # and on each served model, with the key
                    for name in served:
                        fuzz_operation(
                            operation,
                            mode,
                            url=fuzzed.url,
                            headers=fuzzed.admin,
                            session=session,
                            tally=tally,
                            name=name,
                        )
    assert fuzzed.process.poll() is None, fuzzed.output()[-3000:]
    assert not tally.problems, tally.report()
    assert tally.sent >= MIN_REQUESTS, tally.by_operation
    print(f"{tally.sent} requests:", tally.by_operation)  # shown with -s or on failure
