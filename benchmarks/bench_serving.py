"""Serving: ``neuroplast serve`` against a naive FastAPI server and LitServe, under HTTP load
from a separate process, on the demo text CNN and a Fashion-MNIST CNN.

For each model the script starts three servers on 127.0.0.1, each in its own process, all on
the same registered version, loaded by the same function on the same backend (ONNX):

  neuroplast  ``neuroplast serve MODEL --max-batch 64 --max-wait-ms 2`` (dynamic batching,
              prediction log, metrics: the real server with its defaults);
  naive       a FastAPI app calling the Predictor once per request in a ``def`` endpoint
              (``serving_baselines/naive.py``);
  litserve    LitServe with its own batching at the same max batch and wait
              (``serving_baselines/litserve_server.py``, from its own venv ``.venv-bench``).

wrk (Debian's package) drives each one with 64 connections for ``--seconds`` (20 s): first
``GET /health`` (a no-op: what the server and the generator manage without a model; if it is
far above the predict rate, the generator is not what limits), then one-input predicts
(servers interleaved, ``--repeats`` rounds, median), then 32-input predicts on neuroplast,
compared with the bare Predictor's batch-64 throughput measured in this process between the
rounds. It prints req/s, p50/p99 latency, errors, the CPU each server process tree and wrk
used, the peak RSS of the text model's server process and, with ``--imports`` or when the RSS
is over the goal, what that process imports (``python -X importtime``) and what each of its
biggest packages costs in RSS alone.

``--soak``: 60 s of mixed predict (wrk), explain and predict+feedback (Python clients) load
on the text model, with ``models promote NAME:2`` at a third and ``models rollback NAME`` at
two thirds: counts every failed request and the RSS from the 10th to the last second.

For the diagnosis: ``--log-off-too`` adds ``neuroplast serve --log-sample 0`` (what the
prediction log costs), ``--uvloop-too`` the same server on uvloop + httptools (from the
LitServe venv, where uvicorn finds them), ``--switch-interval-too`` one with a 0.5 ms GIL
switch interval; ``--profile`` runs ``neuroplast serve`` under cProfile, one profile per
thread, while wrk drives it, and prints where each thread's time goes.

    .venv/bin/python benchmarks/bench_serving.py [--home DIR] [--quick] [--seconds 20]
        [--repeats 3] [--models text,image] [--no-litserve] [--imports] [--json out.json]
        [--log-off-too] [--uvloop-too] [--serve-args '--log-sample 0']
    .venv/bin/python benchmarks/bench_serving.py --soak [--home DIR] [--seconds 60]
    .venv/bin/python benchmarks/bench_serving.py --profile --models text [--profile-batch32]

Models are trained into ``--home`` when missing (text: the ``text-cnn`` template as
``make demo`` trains it; image: the ``image-cnn`` template, 2 epochs on 12,000 images), and
put in production; keep the home between runs to skip that.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import console, environment, print_environment, print_table

ROOT = Path(__file__).resolve().parents[1]
BASELINES = Path(__file__).resolve().parent / "serving_baselines"
BIN = Path(sys.executable).parent
LITSERVE_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
TEXT, IMAGE = "rt-cnn", "fmnist-cnn"
GOAL_NAIVE, GOAL_LITSERVE, GOAL_BARE, GOAL_RSS_MB, GOAL_SOAK_GROWTH = 3.0, 1.2, 0.7, 150.0, 0.10
TICK = os.sysconf("SC_CLK_TCK")


# ---- models ----------------------------------------------------------------------------


def _cli(home: Path, *args: str, timeout: float | None = None) -> str:
    env = {**os.environ, "NEUROPLAST_HOME": str(home)}
    proc = subprocess.run(
        [str(BIN / "neuroplast"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode:
        raise SystemExit(f"neuroplast {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def _versions(home: Path, model: str) -> list[Any]:
    from neuroplast.errors import ModelNotFoundError
    from neuroplast.registry import Registry

    with Registry(home) as registry:
        try:
            return list(registry.versions(model))
        except ModelNotFoundError:
            return []


TRAIN_SETS = {
    # the demo's text CNN as `make demo` trains it (pretrained MiniLM vectors, up to 6 epochs)
    (TEXT, False): [],
    (TEXT, True): [
        "model.pretrained_embeddings=null",
        "model.embedding_dim=32",
        "model.num_filters=16",
        "train.epochs=1",
        "data.limit=1500",
    ],
    (IMAGE, False): ["train.epochs=2", "data.limit=12000"],
    (IMAGE, True): [
        "model.channels=[8,16]",
        "train.epochs=1",
        "data.limit=1500",
        "train.scheduler.name=cosine",  # onecycle divides by zero at exactly 10 steps
    ],
}
TEMPLATES = {TEXT: "text-cnn", IMAGE: "image-cnn"}


def train(home: Path, model: str, *, quick: bool, extra: Sequence[str] = ()) -> None:
    config = home / f"bench-{model}.yaml"
    _cli(home, "init", "--template", TEMPLATES[model], "-o", str(config), "--force")
    sets = [*TRAIN_SETS[(model, quick)], *extra]
    started = time.perf_counter()
    _cli(home, "train", str(config), *[a for s in sets for a in ("--set", s)])
    console.print(
        f"trained {model} ({', '.join(sets) or 'template as is'}) in "
        f"{time.perf_counter() - started:.0f} s"
    )


def ensure_model(home: Path, model: str, *, quick: bool, versions: int = 1) -> None:
    """``model`` in ``home`` with at least ``versions`` versions and one in production."""
    have = _versions(home, model)
    if not have:
        train(home, model, quick=quick)
        have = _versions(home, model)
    while len(have) < versions:  # a second version for the soak's promote (one epoch)
        train(home, model, quick=quick, extra=["train.epochs=1", "train.seed=7"])
        have = _versions(home, model)
    if not any(getattr(v, "stage", None) == "production" for v in have):
        _cli(home, "models", "promote", f"{model}:1", "--stage", "production")


# ---- request bodies --------------------------------------------------------------------


@dataclass
class Body:
    path: Path
    content_type: str
    inputs: Any  # the raw inputs (texts or uint8 images) the body carries
    count: int


BOUNDARY = "neuroplastbenchboundary"


def _multipart(pngs: Sequence[bytes]) -> bytes:
    parts = []
    for i, png in enumerate(pngs):
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="img{i}.png"\r\nContent-Type: image/png\r\n\r\n'
        )
        parts.append(head.encode() + png + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _png(image: Any) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    array = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def make_bodies(home: Path, model: str, work: Path) -> dict[str, Body]:
    """One-input and 32-input request bodies from the model's own test split: the text of
    median length (or the first test image), and the first 32 test inputs."""
    from neuroplast.inference.inputs import model_data, split_inputs
    from neuroplast.registry import Registry
    from neuroplast.workflows.report import load_registered

    with Registry(home) as registry:
        _, loaded = load_registered(registry, model)
    inputs = split_inputs(model_data(loaded.meta, loaded.vocab), "test", limit=200).inputs
    bodies: dict[str, Body] = {}
    if loaded.meta.modality == "text":
        texts = list(inputs)
        median = sorted(texts, key=len)[len(texts) // 2]
        for name, payload, raw in (
            ("single", {"inputs": median}, [median]),
            ("batch32", {"inputs": texts[:32]}, texts[:32]),
        ):
            path = work / f"{model}-{name}.json"
            path.write_text(json.dumps(payload), encoding="utf-8")
            bodies[name] = Body(path, "application/json", raw, len(raw))
    else:
        for name, raw in (("single", inputs[:1]), ("batch32", inputs[:32])):
            path = work / f"{model}-{name}.multipart"
            path.write_bytes(_multipart([_png(x) for x in raw]))
            bodies[name] = Body(path, f"multipart/form-data; boundary={BOUNDARY}", raw, len(raw))
    return bodies


# ---- server processes ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Server:
    name: str
    cmd: list[str]
    port: int
    ready_path: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 300.0) -> float:
        assert self.proc is not None
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise SystemExit(f"{self.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def pids(self) -> list[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        tree, out, todo = _children(), [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(tree.get(pid, []))
        return out

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / TICK

    def rss_mb(self) -> float:
        return sum(_status_kb(p, "VmRSS") for p in self.pids()) / 1024

    def peak_rss_mb(self) -> dict[int, float]:
        """VmHWM of every process of the tree (the serving process's own peak)."""
        return {p: _status_kb(p, "VmHWM") / 1024 for p in self.pids()}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def servers_for(model: str, home: Path, work: Path, args: argparse.Namespace) -> dict[str, Server]:
    env = {"NEUROPLAST_HOME": str(home)}
    out: dict[str, Server] = {}
    cli = [str(BIN / "neuroplast")]
    variants = {"neuroplast": (cli, args.serve_args.split())}
    if args.log_off_too:  # the same server without its prediction log, for the diagnosis
        variants["neuroplast no log"] = (cli, [*args.serve_args.split(), "--log-sample", "0"])
    if args.uvloop_too and args.litserve_python.exists():
        # the same server on uvloop + httptools (uvicorn picks them when installed, as in
        # LitServe's venv), for the diagnosis
        run_cli = "import sys; from neuroplast.cli import main; sys.argv[0] = 'neuroplast'; main()"
        variants["neuroplast uvloop"] = (
            [str(args.litserve_python), "-c", run_cli],
            args.serve_args.split(),
        )
    if args.switch_interval_too:
        # the same server with a 0.5 ms GIL switch interval (Python's default is 5 ms: a
        # thread running Python holds the event loop off for up to that long)
        run_cli = (
            "import sys; sys.setswitchinterval(0.0005); from neuroplast.cli import main; "
            "sys.argv[0] = 'neuroplast'; main()"
        )
        variants["neuroplast 0.5 ms GIL"] = (
            [sys.executable, "-c", run_cli],
            args.serve_args.split(),
        )
    for name, (command, extra) in variants.items():
        port = free_port()
        out[name] = Server(
            name,
            [
                *command,
                "serve",
                model,
                *extra,
                "--port",
                str(port),
                "--max-batch",
                str(args.max_batch),
                "--max-wait-ms",
                str(args.max_wait_ms),
            ],
            port,
            "/ready",
            work / f"{name.replace(' ', '-')}-{model}.log",
            env,
        )
    port = free_port()
    out["naive"] = Server(
        "naive",
        [
            sys.executable,
            str(BASELINES / "naive.py"),
            "--home",
            str(home),
            "--model",
            model,
            "--port",
            str(port),
            "--max-batch",
            str(args.max_batch),
        ],
        port,
        "/health",
        work / f"naive-{model}.log",
        env,
    )
    if args.litserve:
        port = free_port()
        out["litserve"] = Server(
            "litserve",
            [
                str(args.litserve_python),
                str(BASELINES / "litserve_server.py"),
                "--home",
                str(home),
                "--model",
                model,
                "--port",
                str(port),
                "--max-batch",
                str(args.max_batch),
                "--max-wait-ms",
                str(args.max_wait_ms),
            ],
            port,
            "/health",
            work / f"litserve-{model}.log",
            env,
        )
    return out


def post(url: str, body: Body, timeout: float = 30.0) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=body.path.read_bytes(), headers={"Content-Type": body.content_type}
    )
    with urllib.request.urlopen(request, timeout=timeout) as r:
        return dict(json.loads(r.read()))


def check_answer(server: Server, model: str, body: Body) -> str:
    """One request by hand: the server answers ``body.count`` predictions (so that the load
    runs do not count fast errors as throughput); returns the version that answered."""
    try:
        out = post(f"{server.url}/v1/models/{model}/predict", body)
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")[:2000]
        raise SystemExit(f"{server.name} answered {e.code}: {detail}\n{server.tail()}") from e
    if len(out.get("predictions", [])) != body.count:
        raise SystemExit(f"{server.name} answered {out!r} to {body.count} inputs")
    return str(out.get("version", "?"))


# ---- load generator --------------------------------------------------------------------

_WRK_LUA = """
{setup}
done = function(summary, latency, requests)
  local e = summary.errors
  local out = assert(io.open("{out}", "w"))
  out:write(string.format(
    '{{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}}',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  out:close()
end
"""


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    wrk_cpu: float  # cores wrk used on average
    server_cpu: float  # cores the server's process tree used on average

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def _wrk_script(work: Path, body: Body | None, out: Path) -> Path:
    if body is None:
        setup = 'wrk.method = "GET"'
    else:
        setup = (
            f'local f = assert(io.open("{body.path}", "rb"))\n'
            'wrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n'
            f'wrk.headers["Content-Type"] = "{body.content_type}"'
        )
    script = work / f"wrk-{out.stem}.lua"
    script.write_text(_WRK_LUA.format(setup=setup, out=out))
    return script


_RUNS = iter(range(1_000_000))


def wrk_run(
    server: Server, path: str, body: Body | None, args: argparse.Namespace, seconds: float
) -> Load:
    """wrk against ``server`` for ``seconds`` with ``args.connections`` connections."""
    out = args.work / f"wrk-{next(_RUNS)}.json"
    script = _wrk_script(args.work, body, out)
    cmd = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        server.url + path,
    ]
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before, started = server.cpu_seconds(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    wall = time.perf_counter() - started
    server_cpu = (server.cpu_seconds() - server_before) / wall
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode or not out.exists():
        raise SystemExit(f"wrk failed ({proc.returncode}): {proc.stderr}\n{proc.stdout}")
    r = json.loads(out.read_text())
    wrk_cpu = (
        after_children.ru_utime
        + after_children.ru_stime
        - before_children.ru_utime
        - before_children.ru_stime
    ) / wall
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return Load(
        requests=r["requests"],
        seconds=r["duration_us"] / 1e6,
        errors=errors,
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        wrk_cpu=wrk_cpu,
        server_cpu=server_cpu,
    )


# ---- the bare Predictor ----------------------------------------------------------------

_PREDICTORS: dict[str, Any] = {}


def bare_throughput(home: Path, model: str, inputs: Any, args: argparse.Namespace) -> float:
    """Predictions/s of the Predictor the server runs (same loader, backend and threads),
    called directly in this process on batches of 64: the 32 inputs of the 32-input request
    twice (what the server's batcher joins). Median of 5 rounds of about 0.5 s."""
    import numpy as np

    from neuroplast.registry import Registry
    from neuroplast.serving._loading import input_spec, load_predictor, warm

    predictor = _PREDICTORS.get(model)
    if predictor is None:
        registry = Registry(home)
        ref = registry.resolve(model).ref
        predictor = load_predictor(
            registry, ref, backend="onnx", max_batch=args.max_batch, threads=None
        )
        warm(predictor, input_spec(predictor), args.max_batch)
        _PREDICTORS[model] = predictor
    batch = list(inputs) * 2 if isinstance(inputs[0], str) else np.concatenate([inputs, inputs])
    calls = 0
    started = time.perf_counter()
    while time.perf_counter() - started < 0.5:
        predictor.predict(batch)
        calls += 1
    rates = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            predictor.predict(batch)
        rates.append(calls * len(batch) / (time.perf_counter() - started))
    return statistics.median(rates)


# ---- the comparison --------------------------------------------------------------------


def compare(model: str, home: Path, args: argparse.Namespace) -> dict[str, Any]:
    from neuroplast.registry import Registry
    from neuroplast.workflows.serving_artifacts import ensure_onnx

    with Registry(home) as registry:  # once here, not by the three servers at once
        ensure_onnx(registry, model)
    bodies = make_bodies(home, model, args.work)
    servers = servers_for(model, home, args.work, args)
    result: dict[str, Any] = {"noop": {}, "single": {}, "batch32": [], "bare": [], "ready_s": {}}
    try:
        for server in servers.values():
            server.start()
        for name, server in servers.items():
            result["ready_s"][name] = server.wait_ready()
            result["version"] = check_answer(server, model, bodies["single"])
            check_answer(server, model, bodies["batch32"])
        console.print(
            f"{model}: servers ready ("
            + ", ".join(f"{n} {s:.1f} s" for n, s in result["ready_s"].items())
            + f"), answering with {result['version']}"
        )
        path = f"/v1/models/{model}/predict"
        for name, server in servers.items():
            result["noop"][name] = wrk_run(server, "/health", None, args, args.noop_seconds)
        names = list(servers)
        for r in range(args.repeats):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                load = wrk_run(servers[name], path, bodies["single"], args, args.seconds)
                result["single"].setdefault(name, []).append(load)
                console.print(
                    f"  round {r + 1} {name:<10} {load.rps:8.1f} req/s  p50 {load.p50_ms:7.1f} "
                    f"ms  p99 {load.p99_ms:7.1f} ms  errors {load.errors}  server "
                    f"{load.server_cpu:.2f} cores  wrk {load.wrk_cpu:.2f}"
                )
            bare = bare_throughput(home, model, bodies["batch32"].inputs, args)
            load = wrk_run(servers["neuroplast"], path, bodies["batch32"], args, args.seconds)
            result["bare"].append(bare)
            result["batch32"].append(load)
            console.print(
                f"  round {r + 1} 32 inputs  {load.rps * 32:8.1f} predictions/s (bare "
                f"Predictor {bare:.1f}/s: {load.rps * 32 / bare:.2f})  p99 {load.p99_ms:.1f} ms"
            )
        if model == TEXT:
            result["rss"] = {n: s.peak_rss_mb() for n, s in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    return result


def _median(loads: Sequence[Load], key: Callable[[Load], float]) -> float:
    return statistics.median(key(x) for x in loads)


def report(model: str, r: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    single = r["single"]
    np_rps = _median(single["neuroplast"], lambda x: x.rps)
    np_p99 = _median(single["neuroplast"], lambda x: x.p99_ms)
    rows, goals, summary = [], [], {"model": model, "version": r["version"], "servers": {}}
    for name, loads in single.items():
        rps, p50 = _median(loads, lambda x: x.rps), _median(loads, lambda x: x.p50_ms)
        p99, noop = _median(loads, lambda x: x.p99_ms), r["noop"][name]
        errors = sum(x.errors for x in loads)
        if name in ("naive", "litserve"):
            target = GOAL_NAIVE if name == "naive" else GOAL_LITSERVE
            met = np_rps / rps >= target and np_p99 <= p99
            goals.append(
                f"{model}: neuroplast vs {name}: {np_rps / rps:.2f}x req/s, p99 {np_p99:.1f} "
                f"vs {p99:.1f} ms: {'met' if met else 'MISSED'} (goal >= {target:g}x at equal "
                "or lower p99)"
            )
        rows.append(
            [
                name,
                f"{noop.rps:,.0f}",
                f"{noop.wrk_cpu:.2f}",
                f"{rps:,.1f}",
                f"{min(x.rps for x in loads):,.0f}-{max(x.rps for x in loads):,.0f}",
                f"{p50:.1f}",
                f"{p99:.1f}",
                str(errors + noop.errors),
                f"{_median(loads, lambda x: x.server_cpu):.2f}",
                f"{_median(loads, lambda x: x.rps / max(x.server_cpu, 1e-9)):,.0f}",
                f"{_median(loads, lambda x: x.wrk_cpu):.2f}",
                f"{np_rps / rps:.2f}x",
            ]
        )
        summary["servers"][name] = {
            "noop_rps": noop.rps,
            "noop_p99_ms": noop.p99_ms,
            "rps": rps,
            "p50_ms": p50,
            "p99_ms": p99,
            "errors": errors,
            "rounds": [vars(x) for x in loads],
        }
    print_table(
        f"{model} ({r['version']}), one input per request, {args.connections} connections, "
        f"{args.seconds:g} s per run, median of {args.repeats} interleaved rounds",
        [
            "server",
            "/health req/s",
            "wrk cores",
            "predict req/s",
            "range",
            "p50 ms",
            "p99 ms",
            "errors",
            "server cores",
            "req per core-s",
            "wrk cores",
            "neuroplast / it",
        ],
        rows,
    )
    for line in goals:
        console.print(line)
    fractions = [x.rps * 32 / b for x, b in zip(r["batch32"], r["bare"], strict=True)]
    preds = _median(r["batch32"], lambda x: x.rps * 32)
    fraction = statistics.median(fractions)
    console.print(
        f"{model}: 32-input requests {preds:,.0f} predictions/s "
        f"(p99 {_median(r['batch32'], lambda x: x.p99_ms):.1f} ms) against the bare "
        f"Predictor's {statistics.median(r['bare']):,.0f}/s at batch 64: {fraction:.2f} "
        f"(rounds {', '.join(f'{f:.2f}' for f in fractions)}; "
        f"{'met' if fraction >= GOAL_BARE else 'MISSED'}, goal >= {GOAL_BARE})"
    )
    summary["batch32"] = {
        "predictions_per_s": preds,
        "bare_per_s": statistics.median(r["bare"]),
        "fraction": fraction,
        "rounds": [vars(x) for x in r["batch32"]],
        "bare_rounds": r["bare"],
    }
    if "rss" in r:
        summary["rss"] = r["rss"]
    return summary


# ---- memory ----------------------------------------------------------------------------

_HWM = (
    "import sys\n"
    "def _hwm():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1]) / 1024\n"
)


def import_rss(module: str) -> float:
    code = _HWM + (f"import {module}\n" if module else "") + "print(_hwm())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(proc.stdout.strip() or "nan")


def imports_of_server(model: str, home: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``neuroplast serve MODEL`` under ``python -X importtime``, answer a few requests,
    and list the top-level packages it imported by cumulative import time, each with the
    RSS a fresh interpreter gains by importing it alone."""
    port = free_port()
    log = args.work / "importtime.log"
    server = Server(
        "importtime",
        [
            sys.executable,
            "-X",
            "importtime",
            str(BIN / "neuroplast"),
            "serve",
            model,
            "--port",
            str(port),
        ],
        port,
        "/ready",
        log,
        {"NEUROPLAST_HOME": str(home)},
    )
    body = make_bodies(home, model, args.work)["single"]
    server.start()
    try:
        server.wait_ready()
        for _ in range(20):
            post(f"{server.url}/v1/models/{model}/predict", body)
        hwm = max(server.peak_rss_mb().values())
    finally:
        server.stop()
    roots: dict[str, float] = {}  # in the order the server finished importing them
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
    for line in log.read_text(errors="replace").splitlines():
        m = pattern.match(line)
        if m:  # every module, at any depth, adds its own (self) time to its package
            root = m.group(4).split(".")[0]
            roots[root] = roots.get(root, 0.0) + int(m.group(1)) / 1e6
    public = [name for name in roots if not name.startswith("_")]
    added = import_rss_in_order(public)
    base = import_rss("")
    top = sorted(public, key=lambda name: -added.get(name, 0.0))[: args.import_top]
    table = [
        {
            "package": name,
            "import_s": roots[name],
            "rss_added_mb": added.get(name, float("nan")),
            "rss_alone_mb": import_rss(name) - base,
        }
        for name in top
    ]
    print_table(
        f"what `neuroplast serve {model}` imports (peak RSS {hwm:.1f} MB under importtime; a "
        f"bare interpreter {base:.1f} MB; all {len(public)} top-level packages imported in "
        f"the server's order add {sum(added.values()):.1f} MB): the packages that add the "
        "most RSS in that order, their import time (own time of their modules), and the RSS "
        "each adds alone to a fresh interpreter (its dependencies included)",
        ["package", "import s", "RSS added MB", "RSS alone MB"],
        [
            [
                r["package"],
                f"{r['import_s']:.3f}",
                f"{r['rss_added_mb']:.1f}",
                f"{r['rss_alone_mb']:.1f}",
            ]
            for r in table
        ],
    )
    return {
        "peak_rss_mb": hwm,
        "python_mb": base,
        "packages": table,
        "import_s": roots,
        "rss_added_mb": added,
    }


def import_rss_in_order(packages: Sequence[str]) -> dict[str, float]:
    """VmRSS each package adds when imported one after the other in one fresh interpreter
    (the server's order: each is charged only for what the ones before did not bring)."""
    code = (
        "import importlib, json, sys\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS:'):\n"
        "            return int(line.split()[1]) / 1024\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    before = rss()\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        continue\n"
        "    out[name] = rss() - before\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *packages], capture_output=True, text=True, check=True
    )
    return {k: float(v) for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


# ---- profile ---------------------------------------------------------------------------


_PROFILE_RUNNER = """
import cProfile, marshal, os, signal, sys, threading
OUT = sys.argv.pop(1)
profiles = [("main", cProfile.Profile())]
_run = threading.Thread.run
def run(self):  # every thread (batch worker, log writer, ...) gets its own profile
    p = cProfile.Profile()
    profiles.append((self.name, p))
    p.enable()
    try:
        _run(self)
    finally:
        p.disable()
threading.Thread.run = run
def clear(*_):  # SIGUSR1: the event loop's start-up is forgotten (clearing another
    profiles[0][1].clear()  # thread's profile crashes; theirs keep their few start-up calls)
def dump(*_):
    for i, (name, p) in enumerate(profiles):
        try:
            if i == 0:
                p.disable()
            p.snapshot_stats()  # not dump_stats: disabling another thread's profile crashes
            with open(os.path.join(OUT, f"{i:02d}-{name}.prof"), "wb") as f:
                marshal.dump(p.stats, f)
        except Exception as e:
            print("profile of", name, "not written:", repr(e), file=sys.stderr)
    os._exit(0)
signal.signal(signal.SIGUSR1, clear)
signal.signal(signal.SIGTERM, dump)  # uvicorn restores this handler before it re-raises
sys.argv = ["neuroplast", *sys.argv[1:]]
from neuroplast.cli import main
profiles[0][1].enable()
try:
    main()
finally:
    dump()
"""


def profile(model: str, home: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``neuroplast serve MODEL`` under cProfile, one profile per thread (the event loop's,
    where HTTP, JSON and the batcher's bookkeeping run; the batch worker's, where the
    Predictor runs; the prediction log writer's), cleared once the server is ready, while
    wrk drives predicts; prints each thread's functions by own time (cProfile counts wall
    time, GIL waits included, and slows Python code down)."""
    import io
    import pstats

    bodies = make_bodies(home, model, args.work)
    port, out_dir = free_port(), args.work / "profiles"
    out_dir.mkdir(exist_ok=True)
    server = Server(
        "profiled",
        [
            sys.executable,
            "-c",
            _PROFILE_RUNNER,
            str(out_dir),
            "serve",
            model,
            "--port",
            str(port),
            "--max-batch",
            str(args.max_batch),
            "--max-wait-ms",
            str(args.max_wait_ms),
            *args.serve_args.split(),
        ],
        port,
        "/ready",
        args.work / "profiled.log",
        {"NEUROPLAST_HOME": str(home)},
    )
    body = bodies["batch32" if args.profile_batch32 else "single"]
    server.start()
    try:
        server.wait_ready()
        for _ in range(5):
            post(f"{server.url}/v1/models/{model}/predict", body)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGUSR1)
        load = wrk_run(server, f"/v1/models/{model}/predict", body, args, args.seconds)
    finally:
        server.stop()
    console.print(server.tail(10), markup=False, highlight=False)
    console.print(
        f"profiled {model} ({body.count} input(s) per request): {load.rps:.1f} req/s, p50 "
        f"{load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms, server {load.server_cpu:.2f} cores"
    )
    out: dict[str, Any] = {"load": vars(load), "threads": {}}
    for path in sorted(out_dir.glob("*.prof")):
        stats = pstats.Stats(str(path))
        if stats.total_tt < 0.05:  # type: ignore[attr-defined]
            console.print(f"---- thread {path.stem}: {stats.total_tt:.3f} s")  # type: ignore[attr-defined]
            continue
        buf = io.StringIO()
        stats.stream = buf  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(args.profile_top)
        if path.stem.endswith("main"):
            stats.sort_stats("cumulative").print_stats(args.profile_top)
        console.print(f"---- thread {path.stem}", markup=False, highlight=False)
        console.print(buf.getvalue(), markup=False, highlight=False)
        out["threads"][path.stem] = buf.getvalue()
    return out


# ---- soak ------------------------------------------------------------------------------


@dataclass
class Client:
    """A Python client looping over one kind of request; counts answers and failures."""

    name: str
    call: Callable[[], str | None]
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    versions: list[tuple[float, str]] = field(default_factory=list)

    def run(self, stop: threading.Event, t0: float) -> None:
        while not stop.is_set():
            try:
                version = self.call()
                self.ok += 1
                if version and (not self.versions or self.versions[-1][1] != version):
                    self.versions.append((time.perf_counter() - t0, version))
            except Exception as e:  # every failure is a finding of the soak
                detail = e.read().decode(errors="replace")[:300] if hasattr(e, "read") else ""
                self.failed.append(f"{time.perf_counter() - t0:.1f} s: {e!r} {detail}")


def soak(home: Path, args: argparse.Namespace) -> dict[str, Any]:
    ensure_model(home, TEXT, quick=args.quick, versions=2)
    _cli(home, "models", "promote", f"{TEXT}:1", "--stage", "production")
    if not args.soak_export:
        # the graphs the server would export on first serve (importing torch for it) are
        # stored beforehand, as a deployment would: the soak measures serving, not export
        from neuroplast.registry import Registry
        from neuroplast.workflows.serving_artifacts import ensure_onnx

        with Registry(home) as registry:
            for version in (1, 2):
                ensure_onnx(registry, f"{TEXT}:{version}")
    bodies = make_bodies(home, TEXT, args.work)
    port = free_port()
    server = Server(
        "neuroplast",
        [
            str(BIN / "neuroplast"),
            "serve",
            TEXT,
            "--port",
            str(port),
            "--max-batch",
            str(args.max_batch),
            "--max-wait-ms",
            str(args.max_wait_ms),
        ],
        port,
        "/ready",
        args.work / "soak-server.log",
        {"NEUROPLAST_HOME": str(home)},
    )
    base = f"{server.url}/v1/models/{TEXT}"
    text = bodies["single"].inputs[0]

    def send(path: str, payload: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            base + path,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as r:
            return dict(json.loads(r.read()))

    def explain() -> str:
        return str(send("/explain", {"input": text})["version"])

    def feedback() -> str:
        answer = send("/predict", {"inputs": [text, "a tedious mess"]})
        label = answer["predictions"][1]["label"]
        send("/feedback", {"request_id": answer["request_id"], "label": label, "item": 1})
        return str(answer["version"])

    clients = [Client("explain", explain), Client("predict+feedback", feedback)]
    samples: list[tuple[float, float]] = []
    events: list[tuple[float, str]] = []
    server.start()
    try:
        server.wait_ready()
        explain()  # loads torch for the explainer once, before the clock starts
        stop = threading.Event()
        t0 = time.perf_counter()
        threads = [threading.Thread(target=c.run, args=(stop, t0)) for c in clients]
        wrk_out: dict[str, Load] = {}

        def load() -> None:
            wrk_out["load"] = wrk_run(
                server, f"/v1/models/{TEXT}/predict", bodies["single"], args, args.seconds
            )

        generator = threading.Thread(target=load)
        generator.start()
        for thread in threads:
            thread.start()
        plan = [
            (args.seconds / 3, ["models", "promote", f"{TEXT}:2", "--stage", "production"]),
            (2 * args.seconds / 3, ["models", "rollback", TEXT]),
        ]
        while generator.is_alive():
            now = time.perf_counter() - t0
            samples.append((now, server.rss_mb()))
            if plan and now >= plan[0][0]:
                _, command = plan.pop(0)
                _cli(home, *command)
                events.append((time.perf_counter() - t0, " ".join(command)))
            time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join()
        hwm = max(server.peak_rss_mb().values())
    finally:
        server.stop()
    wrk_load = wrk_out["load"]
    at10 = next((rss for t, rss in samples if t >= 10.0), samples[0][1])
    last = samples[-1][1]
    growth = (last - at10) / at10
    failed = wrk_load.errors + sum(len(c.failed) for c in clients)
    console.print(
        f"soak {args.seconds:g} s on {TEXT}: wrk predict {wrk_load.requests:,} requests "
        f"({wrk_load.rps:.0f}/s, p99 {wrk_load.p99_ms:.1f} ms, {wrk_load.errors} errors, "
        f"{args.connections} connections)"
    )
    for c in clients:
        console.print(
            f"  {c.name}: {c.ok} answered, {len(c.failed)} failed; versions seen: "
            + " -> ".join(f"{v} (from {t:.1f} s)" for t, v in c.versions)
        )
        for failure in c.failed[:5]:
            console.print(f"    {failure}")
    for t, what in events:
        console.print(f"  at {t:.1f} s: neuroplast {what}")
    series, next_t = [], 0.0
    for t, rss in samples:
        if t >= next_t:
            series.append(f"{t:.0f} s {rss:.0f}")
            next_t = t + 5.0
    console.print(f"  RSS MB: {', '.join(series)}")
    console.print(
        f"  RSS {at10:.1f} MB at 10 s, {last:.1f} MB at {samples[-1][0]:.0f} s "
        f"(growth {growth:+.1%}), peak {hwm:.1f} MB; failed requests {failed}: "
        f"{'met' if failed == 0 and growth < GOAL_SOAK_GROWTH else 'MISSED'} "
        f"(goal: 0 failed, growth < {GOAL_SOAK_GROWTH:.0%})"
    )
    return {
        "wrk": vars(wrk_load),
        "clients": {
            c.name: {"ok": c.ok, "failed": c.failed, "versions": c.versions} for c in clients
        },
        "events": events,
        "rss_samples": samples,
        "rss_at_10_mb": at10,
        "rss_last_mb": last,
        "growth": growth,
        "peak_rss_mb": hwm,
        "failed": failed,
    }


# ---- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="bench home (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="tiny models, 2 s runs, 1 round")
    parser.add_argument("--soak", action="store_true", help="the 60 s soak instead")
    parser.add_argument("--models", default="text,image", help="text,image")
    parser.add_argument("--seconds", type=float, default=None, help="per run (20; soak 60)")
    parser.add_argument("--noop-seconds", type=float, default=None, help="GET /health runs (10)")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved rounds (3)")
    parser.add_argument("--connections", type=int, default=None, help="64; soak 16")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    parser.add_argument("--no-litserve", dest="litserve", action="store_false")
    parser.add_argument("--litserve-python", type=Path, default=LITSERVE_PYTHON)
    parser.add_argument("--imports", action="store_true", help="always list the imports")
    parser.add_argument("--import-top", type=int, default=15)
    parser.add_argument(
        "--serve-args", default="", help="more options for neuroplast serve, e.g. '--log-sample 0'"
    )
    parser.add_argument(
        "--log-off-too",
        action="store_true",
        help="also run neuroplast serve with --log-sample 0 (what the prediction log costs)",
    )
    parser.add_argument(
        "--uvloop-too",
        action="store_true",
        help="also run neuroplast serve on uvloop + httptools (from the LitServe venv)",
    )
    parser.add_argument(
        "--switch-interval-too",
        action="store_true",
        help="also run neuroplast serve with sys.setswitchinterval(0.0005)",
    )
    parser.add_argument(
        "--soak-export",
        action="store_true",
        help="soak: leave version 2 without its ONNX graph (the server exports it on promote)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile neuroplast serve")
    parser.add_argument("--profile-batch32", action="store_true", help="profile 32-input requests")
    parser.add_argument("--profile-top", type=int, default=40)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quick_defaults = {"seconds": 2.0, "noop_seconds": 1.0, "repeats": 1}
    full_defaults = {"seconds": 60.0 if args.soak else 20.0, "noop_seconds": 10.0, "repeats": 3}
    for key, value in (quick_defaults if args.quick else full_defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.connections is None:
        args.connections = 16 if args.soak else 64
    if args.litserve and not args.litserve_python.exists():
        console.print(
            f"[yellow]no {args.litserve_python}: LitServe skipped (see "
            "serving_baselines/litserve_server.py for its venv)[/yellow]"
        )
        args.litserve = False
    env = environment()
    print_environment(env)
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    console.print(
        f"[bold]{'load generator':<20}[/bold] {wrk_version.splitlines()[0]}, "
        f"{args.wrk_threads} thread(s)"
    )
    results: dict[str, Any] = {
        "environment": env,
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    with tempfile.TemporaryDirectory(prefix="np-bench-serving-") as tmp:
        home = (args.home or Path(tmp) / "home").absolute()
        args.work = Path(tmp)
        if args.soak:
            results["soak"] = soak(home, args)
        elif args.profile:
            model = {"text": TEXT, "image": IMAGE}[args.models.split(",")[0].strip()]
            ensure_model(home, model, quick=args.quick)
            results["profile"] = profile(model, home, args)
        else:
            wanted = [m.strip() for m in args.models.split(",") if m.strip()]
            models = [{"text": TEXT, "image": IMAGE}[m] for m in wanted]
            for model in models:
                ensure_model(home, model, quick=args.quick)
            results["models"] = {}
            for model in models:
                raw = compare(model, home, args)
                results["models"][model] = report(model, raw, args)
            if TEXT in models:
                rss = results["models"][TEXT]["rss"]["neuroplast"]
                peak = max(rss.values())
                console.print(
                    f"peak RSS of the `neuroplast serve {TEXT}` process after the runs: "
                    f"{peak:.1f} MB ({len(rss)} process(es)): "
                    f"{'met' if peak <= GOAL_RSS_MB else 'MISSED'} (goal <= {GOAL_RSS_MB:g} MB)"
                )
                if args.imports or (peak > GOAL_RSS_MB and not args.quick):
                    results["imports"] = imports_of_server(TEXT, home, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        console.print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
