"""The server under load, over HTTP on 127.0.0.1: batches never exceed --max-batch (also
with requests of 200 inputs); a promote and a rollback, twice, while a client keeps sending
fail no request and every answer names its version; an A/B split and sticky keys; a shadow
version's agreement; SIGTERM with many requests in flight answers every one of them.

Bounded in requests and in time (every wait has a deadline); no figure is a timing."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from tests.serving.fixtures import TEXT_MODEL, Server

pytestmark = pytest.mark.slow

V1, V2 = f"{TEXT_MODEL}:1", f"{TEXT_MODEL}:2"
PREDICT = f"/v1/models/{TEXT_MODEL}/predict"
TEXTS = [
    "a gorgeous, witty film",
    "a tedious mess",
    "the best thing i have seen this year",
    "flat characters and a plot that goes nowhere",
    "warm, funny and sad at once",
]
SWITCH_DEADLINE = 60.0  # s for the server to answer from a new production version (poll 1 s)


def texts(n: int, offset: int = 0) -> list[str]:
    return [f"{TEXTS[(offset + i) % len(TEXTS)]} {i}" for i in range(n)]


def batch_histogram(server: Server, model: str = TEXT_MODEL) -> dict[str, float]:
    """``neuroplast_batch_size`` of ``model`` summed over its versions: ``count``, ``sum``
    and ``le=B`` for each bucket bound B (cumulative, as Prometheus gives them)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "neuroplast_batch_size":
            continue
        for sample in family.samples:
            if sample.labels.get("model") != model:
                continue
            if sample.name.endswith("_bucket"):
                key = f"le={float(sample.labels['le']):g}"
            elif sample.name.endswith(("_count", "_sum")):
                key = sample.name.rsplit("_", 1)[1]
            else:
                continue
            found[key] = found.get(key, 0.0) + sample.value
    return found


def predict(client: httpx.Client, inputs: str | list[str], **extra: object) -> httpx.Response:
    return client.post(PREDICT, json={"inputs": inputs, **extra})


def test_batches_never_exceed_max_batch(start_server: Callable[..., Server]) -> None:
    server = start_server("--max-batch", "8", "--max-wait-ms", "5")
    before = batch_histogram(server)
    sizes = [200, 1, 3, 200, 8, 9, 17, 200, 2, 64, 5, 200] * 3  # 36 requests, 12 of 200
    with server.client() as client, ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda n: predict(client, texts(n), top_k=2), sizes))
    assert [a.status_code for a in answers] == [200] * len(sizes), answers[0].text
    assert [len(a.json()["predictions"]) for a in answers] == sizes
    after = batch_histogram(server)
    batches = after["count"] - before.get("count", 0)
    items = after["sum"] - before.get("sum", 0)
    at_most_8 = after["le=8"] - before.get("le=8", 0)
    assert items == sum(sizes)  # every input ran exactly once
    assert at_most_8 == batches  # no batch above --max-batch
    assert batches >= math.ceil(sum(sizes) / 8)
    assert after["le=4"] - before.get("le=4", 0) < batches  # the 200s were split into full batches
    # ONNX graphs stored in the registry: the serving process never imported torch
    assert httpx.get(f"{server.url}/health", timeout=30).json()["torch_loaded"] is False


@dataclass
class Traffic:
    """A client thread that predicts until stopped: every answer's version, every failure."""

    server: Server
    versions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with self.server.client(timeout=30.0) as client:
            i = 0
            while not self.stop.is_set():
                i += 1
                try:
                    answer = predict(client, texts(1 + i % 4, i))
                except httpx.HTTPError as e:
                    self.failures.append(f"request {i}: {type(e).__name__}: {e}")
                    continue
                if answer.status_code != 200:
                    self.failures.append(f"request {i}: {answer.status_code} {answer.text[:200]}")
                    continue
                self.versions.append(answer.json()["version"])

    def wait_for(self, version: str, start: int) -> int:
        """The index of the first answer from ``version`` from answer ``start`` on; fails
        past the deadline."""
        deadline = time.monotonic() + SWITCH_DEADLINE
        while time.monotonic() < deadline:
            for i in range(start, len(self.versions)):
                if self.versions[i] == version:
                    return i
            time.sleep(0.05)
        raise AssertionError(
            f"no answer from {version} within {SWITCH_DEADLINE} s; the last ones came from "
            f"{Counter(self.versions[start:])}\n{self.server.output()[-3000:]}"
        )


def test_promote_and_rollback_under_load(start_server: Callable[..., Server]) -> None:
    server = start_server()
    traffic = Traffic(server)
    client = threading.Thread(target=traffic.run, daemon=True)
    client.start()
    switches = []
    try:
        steps = [
            (("models", "promote", V2, "--stage", "production"), V2),
            (("models", "rollback", TEXT_MODEL), V1),
            (("models", "promote", V2, "--stage", "production"), V2),
            (("models", "rollback", TEXT_MODEL), V1),
        ]
        traffic.wait_for(V1, 0)
        for args, expected in steps:
            before = len(traffic.versions)  # the server may switch before the CLI returns
            done = server.cli(*args)
            assert done.returncode == 0, done.stderr
            switches.append(traffic.wait_for(expected, before))
        end = len(traffic.versions) + 20
        while len(traffic.versions) < end and not traffic.failures and client.is_alive():
            time.sleep(0.05)
    finally:
        traffic.stop.set()
        client.join(60)
    assert traffic.failures == []
    assert set(traffic.versions) == {V1, V2}
    # once the new production answered, the sequential client saw only it until the next change
    bounds = [*switches, len(traffic.versions)]
    for (_, expected), start, stop in zip(steps, switches, bounds[1:], strict=True):
        assert set(traffic.versions[start:stop]) == {expected}, (switches, runs(traffic.versions))
    assert server.process.poll() is None


def runs(versions: list[str]) -> list[tuple[str, int]]:
    """``versions`` as (version, how many in a row): what the client saw, in order."""
    out: list[tuple[str, int]] = []
    for version in versions:
        if out and out[-1][0] == version:
            out[-1] = (version, out[-1][1] + 1)
        else:
            out.append((version, 1))
    return out


def _served(server: Server) -> dict[str, object]:
    answer = httpx.get(f"{server.url}/v1/models/{TEXT_MODEL}", timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _wait_served(server: Server, check: Callable[[dict[str, object]], bool]) -> dict[str, object]:
    deadline = time.monotonic() + SWITCH_DEADLINE
    while time.monotonic() < deadline:
        info = _served(server)
        if check(info):
            return info
        time.sleep(0.2)
    raise AssertionError(f"the server did not take the change: {_served(server)}")


def test_ab_split_and_sticky_keys(start_server: Callable[..., Server]) -> None:
    server = start_server()
    done = server.cli("ab", "start", TEXT_MODEL, "--split", "1:0.9,2:0.1", "--sticky-key", "user")
    assert done.returncode == 0, done.stderr
    _wait_served(server, lambda info: len(info["arms"]) == 2)  # type: ignore[arg-type]

    keys = [f"user-{i}" for i in range(500)]
    jobs: list[str | None] = [None] * 1_000 + keys + keys  # 1,000 without a key, 500 keys twice

    def send(key: str | None) -> tuple[str | None, str]:
        with_key = {"key": key} if key is not None else {}
        answer = predict(local.client, "a gorgeous, witty film", **with_key)
        assert answer.status_code == 200, answer.text
        return key, str(answer.json()["version"])

    local = threading.local()

    def send_in_thread(key: str | None) -> tuple[str | None, str]:
        if not hasattr(local, "client"):
            local.client = server.client()
        return send(key)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send_in_thread, jobs))
    assert len(results) == 2_000
    assert {version for _, version in results} == {V1, V2}

    keyless = Counter(version for key, version in results if key is None)
    assert 0.06 <= keyless[V2] / 1_000 <= 0.14, keyless
    by_key: dict[str, set[str]] = {}
    for key, version in results:
        if key is not None:
            by_key.setdefault(key, set()).add(version)
    assert all(len(seen) == 1 for seen in by_key.values())  # sticky: one version per key
    keyed = Counter(next(iter(seen)) for seen in by_key.values())
    assert 0.05 <= keyed[V2] / len(keys) <= 0.15, keyed


def test_shadow_agreement_is_recorded(start_server: Callable[..., Server]) -> None:
    from neuroplast.registry import Registry

    server = start_server()
    done = server.cli("ab", "shadow", V2)
    assert done.returncode == 0, done.stderr
    _wait_served(server, lambda info: info["shadows"] == [V2])
    sent = 200
    with server.client() as client:
        for i in range(sent):
            answer = predict(client, texts(1 + i % 3, i))
            assert answer.status_code == 200, answer.text
            assert answer.json()["version"] == V1  # a shadow never answers

    registry = Registry(server.home)
    deadline = time.monotonic() + SWITCH_DEADLINE
    shadow = None
    while time.monotonic() < deadline:
        arms = {s.version: s for s in registry.ab_status(TEXT_MODEL) if s.arm == "shadow"}
        shadow = arms.get(2)
        if shadow is not None and shadow.requests >= sent and shadow.agreement is not None:
            break
        time.sleep(0.5)
    assert shadow is not None, registry.ab_status(TEXT_MODEL)
    assert shadow.requests >= sent
    assert shadow.agreement is not None and 0.0 <= shadow.agreement <= 1.0
    # two versions of one model trained on the same reviews agree on most of them
    assert shadow.agreement > 0.5


def test_sigterm_answers_every_accepted_request(start_server: Callable[..., Server]) -> None:
    import signal

    server = start_server("--max-batch", "2", "--max-wait-ms", "1")
    requests, size = 16, 250  # 4,000 inputs: within the server's queue of 4,096
    before = batch_histogram(server)
    started = threading.Barrier(requests + 1)
    outcomes: list[object] = [None] * requests

    def send(i: int) -> None:
        with httpx.Client(base_url=server.url, timeout=300.0) as client:
            client.get("/health")  # the connection is open before the flood
            started.wait()
            try:
                answer = predict(client, texts(size, i))
                body = answer.json()
                outcomes[i] = (answer.status_code, len(body.get("predictions", [])))
                if answer.status_code != 200:
                    outcomes[i] = (answer.status_code, body)
            except httpx.HTTPError as e:
                outcomes[i] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(requests)]
    for thread in threads:
        thread.start()
    started.wait()
    # every request is on the wire once some batches ran; then stop while most still wait
    deadline = time.monotonic() + 60
    while batch_histogram(server).get("count", 0) - before.get("count", 0) < requests:
        assert time.monotonic() < deadline, "no batch ran"
        time.sleep(0.02)
    in_flight = requests * size - (batch_histogram(server)["sum"] - before.get("sum", 0))
    server.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(300)
    code = server.stop()
    assert in_flight > requests * size // 4, "the work was nearly done before SIGTERM"
    assert outcomes == [(200, size)] * requests, server.output()[-3000:]
    # uvicorn re-raises the signal once it has shut down gracefully: -SIGTERM, or 0
    assert code in (0, -signal.SIGTERM), server.output()[-3000:]
    assert "Traceback" not in server.output(), server.output()[-3000:]
