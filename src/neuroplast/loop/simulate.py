"""Replay a labelled stream with a known shift through a live ``neuroplast serve``.

:func:`simulate` sends the stream a stream file describes (:mod:`.simulate_stream`) to
``POST /v1/models/{name}/predict`` in requests of ``batch_size`` inputs (texts as JSON,
images as PNG ``file`` parts), gives the true label of a ``feedback`` fraction of the inputs
to ``/feedback``, and reports the live accuracy per block of inputs and which versions
answered. With a loop policy and ``loop_every``, it runs one step of the closed loop
(:func:`neuroplast.loop.run_loop`) after every ``loop_every`` inputs, against the registry
the server reads, so a promotion shows up as a new version answering.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast.errors import ConfigError, DataError, ModelNotFoundError, NeuroplastError
from neuroplast.loop.simulate_stream import Stream, StreamSpec, build_stream, load_stream

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["Block", "LoopRun", "SimulationReport", "simulate"]

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8000"
#: ``on_refused(request_id, item, label, reason)``: a feedback label the server refused.
Refused = Callable[[str, int, str, str], None]


@dataclass(frozen=True)
class Block:
    """The answers to inputs ``start`` to ``end - 1`` of the stream."""

    start: int
    end: int
    seconds: float  # since the stream started, when the block's last answer came
    phase: str  # of the block's last input
    accuracy: float
    known_accuracy: float | None  # on the inputs that were not shifted
    shifted_accuracy: float | None  # on the shifted ones (None: the block has none)
    shifted: int
    versions: dict[str, int]
    feedback: int
    refused: int  # feedback the server did not take (e.g. a label the version lacks)


@dataclass(frozen=True)
class LoopRun:
    """One step of the closed loop, run after ``at`` inputs."""

    at: int
    seconds: float
    duration: float
    report: dict[str, Any] | None
    error: str | None = None


@dataclass
class SimulationReport:
    model: str
    url: str
    stream: dict[str, Any]
    phases: list[dict[str, Any]]
    blocks: list[Block] = field(default_factory=list)
    loop_runs: list[LoopRun] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    first_answer: dict[str, int] = field(default_factory=dict)  # version -> first input
    feedback: int = 0
    refused: int = 0
    refusals: list[str] = field(default_factory=list)  # distinct reasons, the first few
    seconds: float = 0.0
    accuracy: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Client:
    """A keep-alive HTTP/1.1 connection to one server (the standard library's, so that
    simulating needs no HTTP client package)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        parsed = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"--url {url!r} is not an http(s) URL, e.g. {DEFAULT_URL}")
        self.base = f"{parsed.scheme}://{parsed.netloc}"
        kind = (
            http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
        )
        self.conn = kind(parsed.hostname, parsed.port, timeout=timeout)
        self.timeout = timeout

    def close(self) -> None:
        self.conn.close()

    def call(
        self, method: str, path: str, body: bytes | None = None, ctype: str | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        headers = {"Content-Type": ctype} if ctype else {}
        for attempt in range(2):  # a kept-alive connection the server closed: reconnect once
            try:
                self.conn.request(method, path, body=body, headers=headers)
                reply = self.conn.getresponse()
                raw = reply.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                self.conn.close()
                if attempt:
                    raise ConfigError(
                        f"no neuroplast server answers at {self.base} ({e}); start one with "
                        "`neuroplast serve MODEL` or pass its --url"
                    ) from e
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode("utf-8", "replace")[:200]
        return reply.status, payload, {k.lower(): v for k, v in reply.getheaders()}

    def checked(self, method: str, path: str, body: bytes | None, ctype: str | None) -> Any:
        """The answer's JSON; a full queue or a loading server is waited for."""
        deadline = time.monotonic() + self.timeout
        while True:
            status, payload, headers = self.call(method, path, body, ctype)
            if status == 200:
                return payload
            if status == 503 and time.monotonic() < deadline:
                time.sleep(min(float(headers.get("retry-after", "0.5") or 0.5), 2.0))
                continue
            message = _message(payload)
            if status == 404:
                raise ModelNotFoundError(f"{self.base}{path}: {message}")
            raise DataError(f"{self.base}{path} answered {status}: {message}")

    def model_info(self, model: str) -> dict[str, Any]:
        info: dict[str, Any] = self.checked("GET", f"/v1/models/{_quote(model)}", None, None)
        return info

    def predict_texts(self, model: str, texts: list[str], *, key: str) -> dict[str, Any]:
        body = json.dumps({"inputs": texts, "key": key}).encode()
        path = f"/v1/models/{_quote(model)}/predict"
        answer: dict[str, Any] = self.checked("POST", path, body, "application/json")
        return answer

    def predict_images(
        self, model: str, files: list[tuple[str, bytes]], *, key: str
    ) -> dict[str, Any]:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\n{key}\r\n'.encode()
        ]
        for name, data in files:
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{name}"\r\nContent-Type: image/png\r\n\r\n'
            )
            parts += [head.encode(), data, b"\r\n"]
        parts.append(f"--{boundary}--\r\n".encode())
        path = f"/v1/models/{_quote(model)}/predict"
        ctype = f"multipart/form-data; boundary={boundary}"
        answer: dict[str, Any] = self.checked("POST", path, b"".join(parts), ctype)
        return answer

    def feedback(
        self, model: str, request_id: str, label: str, item: int, *, new_class: bool = False
    ) -> str | None:
        """None when the server took the label, else why it did not. ``new_class``: the
        label may be a class the model lacks and should learn."""
        fields = {"request_id": request_id, "label": label, "item": item, "new_class": new_class}
        body = json.dumps(fields).encode()
        path = f"/v1/models/{_quote(model)}/feedback"
        status, payload, _ = self.call("POST", path, body, "application/json")
        if status == 200:
            return None
        if status >= 500:
            raise DataError(f"{self.base}{path} answered {status}: {_message(payload)}")
        return _message(payload)


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _message(payload: Any) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return str(payload["error"].get("message"))
    return str(payload)


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    pixels = image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(out, format="PNG")
    return out.getvalue()


def _check_model(info: dict[str, Any], stream: Stream, model: str) -> None:
    kind = info.get("input", {}).get("kind")
    if kind != stream.modality:
        raise ConfigError(
            f"{model} takes {kind} inputs but the stream's data set gives {stream.modality}s: "
            "choose a data set of the model's kind in the stream file"
        )


class _Tally:
    """The answers of the current block."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.correct: list[bool] = []
        self.moved: list[bool] = []
        self.versions: Counter[str] = Counter()
        self.feedback = 0
        self.refused = 0

    def block(self, end: int, seconds: float, phase: str) -> Block:
        correct, moved = np.asarray(self.correct), np.asarray(self.moved)

        def share(mask: np.ndarray) -> float | None:
            return float(correct[mask].mean()) if mask.any() else None

        return Block(
            start=self.start,
            end=end,
            seconds=round(seconds, 3),
            phase=phase,
            accuracy=float(correct.mean()),
            known_accuracy=share(~moved),
            shifted_accuracy=share(moved),
            shifted=int(moved.sum()),
            versions=dict(self.versions),
            feedback=self.feedback,
            refused=self.refused,
        )


def _loop_step(registry: Registry, model: str, policy: Any, at: int, started: float) -> LoopRun:
    from neuroplast.loop import run_loop

    begun = time.perf_counter()
    try:
        report = run_loop(registry, model, policy)
    except NeuroplastError as e:  # recorded: the stream goes on, as traffic would
        log.warning("the loop step after %d inputs failed: %s", at, e)
        return LoopRun(at, round(begun - started, 3), time.perf_counter() - begun, None, str(e))
    duration = time.perf_counter() - begun
    return LoopRun(at, round(begun - started, 3), round(duration, 3), report.to_dict())


def _resolve_policy(policy: Any) -> Any:
    if policy is None or not isinstance(policy, str | Path):
        return policy
    from neuroplast.loop import load_policy

    return load_policy(policy)


def simulate(
    model: str,
    stream: str | Path | dict[str, Any] | StreamSpec,
    *,
    url: str = DEFAULT_URL,
    registry: Registry | None = None,
    policy: Any = None,
    loop_every: int | None = None,
    on_block: Callable[[Block], None] | None = None,
    on_refused: Refused | None = None,
    timeout: float = 60.0,
) -> SimulationReport:
    """Replay ``stream`` through the server at ``url`` and report what it answered.

    ``policy`` (a loop.yaml path or a ``LoopPolicy``) with ``loop_every`` (default: the
    stream file's ``loop_every``) runs one loop step on ``registry`` after every that many
    inputs; ``on_block`` is called with each finished block (progress), ``on_refused`` with
    ``(request_id, item, label, reason)`` for each label the server did not take."""
    spec = load_stream(stream)
    every = loop_every if loop_every is not None else spec.loop_every
    if every is not None and every < 1:
        raise ConfigError(f"loop_every must be 1 or more, not {every}")
    policy = _resolve_policy(policy)
    if policy is not None and registry is None:
        raise ConfigError("running the loop needs the registry the server reads (--home)")
    if every is not None and policy is None:
        raise ConfigError(
            f"the stream runs the loop every {every} inputs but no loop policy was given: "
            "pass --loop-policy loop.yaml (neuroplast init --template loop)"
        )
    client = _Client(url, timeout=timeout)
    try:
        info = client.model_info(model)
        data = build_stream(spec)
        _check_model(info, data, model)
        replay = _Replay(client, model, spec, data, on_block, on_refused)
        loop = None
        if policy is not None and registry is not None:
            reg = registry

            def loop(at: int, started: float) -> LoopRun:
                return _loop_step(reg, model, policy, at, started)

        replay.run(loop, every)
        return replay.report
    finally:
        client.close()


class _Replay:
    """One pass over the stream: requests, feedback, blocks and loop steps."""

    def __init__(
        self,
        client: _Client,
        model: str,
        spec: StreamSpec,
        data: Stream,
        on_block: Callable[[Block], None] | None,
        on_refused: Refused | None,
    ) -> None:
        self.client, self.model, self.spec, self.data = client, model, spec, data
        self.on_block, self.on_refused = on_block, on_refused
        rng = np.random.default_rng([spec.seed, 1])
        self.given = np.zeros(len(data), dtype=bool)
        self.given[rng.permutation(len(data))[: round(spec.feedback * len(data))]] = True
        starts = data.phase_starts()
        self.report = SimulationReport(
            model=model,
            url=client.base,
            stream=spec.model_dump(),
            phases=[
                {"name": n, "start": s, "inputs": p.inputs}
                for n, s, p in zip(data.phase_names, starts, spec.phases, strict=True)
            ],
        )
        self.correct = 0
        self.tally = _Tally(0)
        self.started = time.perf_counter()

    def run(self, loop: Callable[[int, float], LoopRun] | None, every: int | None) -> None:
        data, size = self.data, self.spec.batch_size
        starts = {p["start"]: p for p in self.report.phases}
        for first in range(0, len(data), size):
            rows = range(first, min(first + size, len(data)))
            for start in [s for s in starts if first <= s < rows.stop]:
                starts.pop(start)["seconds"] = round(time.perf_counter() - self.started, 3)
            answer = _predict(self.client, self.model, data, rows, key=f"sim-{first}")
            version = str(answer["version"])
            self.report.first_answer.setdefault(version, first)
            for item, i in enumerate(rows):
                self.answered(i, item, answer, version)
            if loop is not None and every is not None and rows.stop // every > first // every:
                self.report.loop_runs.append(loop(rows.stop, self.started))
        report = self.report
        report.versions = dict(sum((Counter(b.versions) for b in report.blocks), Counter()))
        report.feedback = sum(b.feedback for b in report.blocks)
        report.refused = sum(b.refused for b in report.blocks)
        report.seconds = round(time.perf_counter() - self.started, 3)
        report.accuracy = self.correct / max(len(data), 1)

    def answered(self, i: int, item: int, answer: dict[str, Any], version: str) -> None:
        data, tally = self.data, self.tally
        right = answer["predictions"][item]["label"] == data.labels[i]
        self.correct += right
        tally.correct.append(bool(right))
        tally.moved.append(bool(data.shifted[i]))
        tally.versions[version] += 1
        if self.given[i]:
            refusal = self.client.feedback(
                self.model,
                answer["request_id"],
                data.labels[i],
                item,
                new_class=self.spec.new_classes,
            )
            tally.feedback += 1
            if refusal is not None:
                tally.refused += 1
                if self.on_refused is not None:
                    self.on_refused(answer["request_id"], item, data.labels[i], refusal)
                refusals = self.report.refusals
                if refusal not in refusals and len(refusals) < 5:
                    refusals.append(refusal)
        done = i + 1
        if len(tally.correct) == self.spec.block or done == len(data):
            phase = data.phase_names[int(data.phase[i])]
            block = tally.block(done, time.perf_counter() - self.started, phase)
            self.report.blocks.append(block)
            if self.on_block is not None:
                self.on_block(block)
            self.tally = _Tally(done)


def _predict(client: _Client, model: str, data: Stream, rows: range, *, key: str) -> dict[str, Any]:
    if isinstance(data.inputs, np.ndarray):
        files = [(f"{i}.png", _png(data.inputs[i])) for i in rows]
        return client.predict_images(model, files, key=key)
    return client.predict_texts(model, [data.inputs[i] for i in rows], key=key)
