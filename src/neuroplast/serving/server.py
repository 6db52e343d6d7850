"""Run the app under uvicorn: one process, or ``workers`` processes sharing the port.

Workers are stateless: each builds its own app from the settings the parent puts in
:data:`CONFIG_ENV` and reads the shared registry, so N processes here, or N replicas behind
a load balancer against one PostgreSQL registry, serve the same models. SIGTERM (or Ctrl-C)
stops accepting connections, lets the requests in flight finish, drains every queue and
flushes the prediction log before the process ends.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import json
import logging
import os
import signal
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ConfigError, ModelNotFoundError
from neuroplast.serving.limits import Limits

if TYPE_CHECKING:
    from fastapi import FastAPI

    from neuroplast.registry import Registry
    from neuroplast.serving.pool import ServeSettings

__all__ = [
    "CONFIG_ENV",
    "ServerOptions",
    "app_from_env",
    "is_loopback",
    "options_for",
    "run",
    "served_models",
    "split_options",
]

log = logging.getLogger(__name__)

#: How the parent hands its settings to worker processes (JSON).
CONFIG_ENV = "NEUROPLAST_SERVE_CONFIG"
#: Seconds SIGTERM waits for requests in flight before closing their connections.
GRACEFUL_SECONDS = 30


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """Everything one server process needs; JSON-safe so that workers get the same."""

    home: str | None = None
    db_url: str | None = None
    models: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    loop_policy: str | None = None  # --loop: run the closed loop on a schedule
    loop_every: float = 300.0

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerOptions:
        data = json.loads(text)
        data["models"] = tuple(data.get("models", ()))
        return cls(**data)


def served_models(registry: Registry, names: Sequence[str] = ()) -> list[str]:
    """The models to serve: ``names`` checked against the registry, or, when none are
    given, every model that has a production version (a ConfigError when none has)."""
    known = [m.name for m in registry.list_models() if m.versions > 0]
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            listed = ", ".join(known) or "none yet (train one with `neuroplast train`)"
            raise ConfigError(
                f"no model named {', '.join(map(repr, unknown))} in {registry.home}; "
                f"models: {listed}"
            )
        return list(dict.fromkeys(names))
    chosen = []
    for name in known:
        try:
            registry.resolve(f"{name}@production")
        except ModelNotFoundError:
            continue
        chosen.append(name)
    if not chosen:
        listed = ", ".join(known) or "none"
        raise ConfigError(
            f"no model in {registry.home} has a production version (models: {listed}); name "
            "the models to serve (`neuroplast serve NAME`) or promote one (`neuroplast models "
            "promote NAME:N --stage production`)"
        )
    return chosen


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """A ConfigError now, rather than a uvicorn traceback later, when ``host:port`` is taken
    or cannot be listened on."""
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, not {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.create_server((host, port), family=family):
            pass
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another server?); choose another "
                "with --port"
            ) from e
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


def _build_app(options: ServerOptions) -> FastAPI:
    from neuroplast.registry import Registry
    from neuroplast.serving.app import create_app
    from neuroplast.serving.pool import ServeSettings

    registry = Registry(options.home, url=options.db_url)
    settings: ServeSettings = ServeSettings(**options.settings)
    schedule = None
    if options.loop_policy is not None:
        from neuroplast.serving.loop_schedule import LoopSchedule

        schedule = LoopSchedule(
            options.models or served_models(registry),
            options.loop_policy,
            options.loop_every,
            home=registry.home,
            db_url=options.db_url,
        )
    return create_app(
        registry,
        list(options.models),
        settings,
        limits=Limits(**options.limits),
        loop_schedule=schedule,
    )


def app_from_env() -> FastAPI:
    """The app of one worker process, from the parent's :data:`CONFIG_ENV` (uvicorn calls
    this factory in each worker)."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise ConfigError(f"{CONFIG_ENV} is not set: workers are started by `neuroplast serve`")
    return _build_app(ServerOptions.from_json(text))


def _client_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read())
        except ValueError:
            return e.code, None


def _watch_ready(
    options: ServerOptions,
    echo: Callable[[str], None],
    stop: Callable[[], None],
    failed: threading.Event,
    done: threading.Event,
) -> None:
    """Poll our own ``/ready``: print the served models and the URL once it says 200, or
    the load error (and stop the server) when loading failed."""
    base = f"http://{_client_host(options.host)}:{options.port}"
    while not done.is_set():
        try:
            status, body = _get_json(f"{base}/ready")
        except (OSError, ValueError):
            status, body = 0, None
        if status == 200:
            _, listing = _get_json(f"{base}/v1/models")
            for model in listing.get("models", []):
                echo(f"serving {model['name']}  {model['version']}  backend {model['backend']}")
            shown = f"http://{options.host}:{options.port}" if ":" not in options.host else base
            echo(f"ready on {shown}  (API at {shown}/docs; Ctrl-C or SIGTERM stops)")
            return
        error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        if status == 503 and error.get("code") == "load_failed":
            echo(f"error: {error.get('message')}")
            failed.set()
            stop()
            return
        done.wait(0.2)


def _preflight(options: ServerOptions, echo: Callable[[str], None]) -> None:
    """Refuse what cannot run, warn about an exposed address, and check the port is free,
    before anything loads."""
    if options.workers < 1:
        raise ConfigError(f"--workers must be 1 or more, not {options.workers}")
    if options.loop_policy is not None and options.workers > 1:
        raise ConfigError(
            "--loop runs the loop from one server process: use --workers 1, or run "
            "`neuroplast loop MODEL --policy ...` from cron beside the workers"
        )
    if not is_loopback(options.host):
        echo(
            f"warning: listening on {options.host}:{options.port} exposes the models to the "
            "network: predictions need no key (only admin routes need NEUROPLAST_API_KEY); "
            "keep it behind a firewall or a proxy"
        )
    check_port(options.host, options.port)


def run(options: ServerOptions, *, echo: Callable[[str], None] = print) -> int:
    """Serve until stopped; the exit code (1 when the models failed to load)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    _preflight(options, echo)
    common: dict[str, Any] = {
        "host": options.host,
        "port": options.port,
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "lifespan": "on",
    }
    failed, done = threading.Event(), threading.Event()
    if options.workers == 1:
        config = uvicorn.Config(_build_app(options), **common)
        server = uvicorn.Server(config)

        def stop() -> None:
            server.should_exit = True
    else:
        os.environ[CONFIG_ENV] = options.to_json()
        config = uvicorn.Config(
            "neuroplast.serving.server:app_from_env",
            factory=True,
            workers=options.workers,
            **common,
        )
        server = uvicorn.Server(config)

        def stop() -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # the supervisor stops its workers on SIGTERM

    watcher = threading.Thread(
        target=_watch_ready, args=(options, echo, stop, failed, done), daemon=True
    )
    watcher.start()
    try:
        if options.workers == 1:
            server.run()
        else:
            sock = config.bind_socket()
            Multiprocess(config, sockets=[sock]).run()
    finally:
        done.set()
        watcher.join(timeout=1)
    return 1 if failed.is_set() else 0


def options_for(
    *,
    home: str | Path | None,
    db_url: str | None,
    models: Sequence[str],
    settings: ServeSettings,
    limits: Limits,
    host: str,
    port: int,
    workers: int,
    loop_policy: str | Path | None = None,
    loop_every: float = 300.0,
) -> ServerOptions:
    return ServerOptions(
        home=None if home is None else str(home),
        db_url=db_url,
        models=tuple(models),
        settings=dataclasses.asdict(settings),
        limits=limits.to_dict(),
        host=host,
        port=port,
        workers=workers,
        loop_policy=None if loop_policy is None else str(loop_policy),
        loop_every=loop_every,
    )


def split_options(
    settings_type: type[ServeSettings], limits_type: type[Limits], options: dict[str, Any]
) -> tuple[ServeSettings, Limits, str | None]:
    """``Engine.serve``'s keyword options sorted into settings, limits and the API key; an
    unknown one is a ConfigError that lists the known ones."""
    setting_names = {f.name for f in dataclasses.fields(settings_type)}
    limit_names = {f.name for f in dataclasses.fields(limits_type)}
    unknown = sorted(set(options) - setting_names - limit_names - {"api_key"})
    if unknown:
        known = ", ".join(sorted(setting_names | limit_names | {"api_key"}))
        raise ConfigError(f"unknown serve option {', '.join(unknown)}; the options: {known}")
    settings = settings_type(**{k: v for k, v in options.items() if k in setting_names})
    limits = limits_type(**{k: v for k, v in options.items() if k in limit_names})
    return settings, limits, options.get("api_key")
