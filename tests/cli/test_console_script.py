"""The installed ``neuroplast`` console script as a new user meets it: usage mistakes are one
line and exit 2, every documented exit code reaches the shell, and the commands that only
read or describe the registry start without importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuroplast import Engine
from tests.conftest import one_torch_thread, small_text_config

SCRIPT = Path(sys.executable).with_name("neuroplast")


def neuroplast(
    *args: str, home: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess:
    """The console script in a subprocess, as a shell runs it."""
    env = {**os.environ, "NEUROPLAST_NO_PROGRESS": "1"}
    env.pop("NEUROPLAST_DB_URL", None)
    if home is not None:
        env["NEUROPLAST_HOME"] = str(home)
    command = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "neuroplast"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, input=stdin, timeout=120
    )


USAGE_MISTAKES = [
    (["train"], "Missing argument", "neuroplast train"),
    (["predict"], "Missing argument", "neuroplast predict"),
    (["models", "show"], "Missing argument", "neuroplast models show"),
    (["models", "delete"], "Missing argument", "neuroplast models delete"),
    (["train", "x.yaml", "--bogus"], "No such option: --bogus", "neuroplast train"),
    (["frobnicate"], "No such command 'frobnicate'", "neuroplast"),
    (["--frobnicate"], "No such option: --frobnicate", "neuroplast"),
    (["models", "frobnicate"], "No such command 'frobnicate'", "neuroplast models"),
    (["evaluate", "m", "--split"], "requires an argument", "neuroplast evaluate"),
    (["bench", "m", "--inputs", "many"], "Invalid value for '--inputs'", "neuroplast bench"),
    (["compress", "m", "--epochs", "0"], "Invalid value for '--epochs'", "neuroplast compress"),
    (["predict", "m", "x", "--top-k"], "requires an argument", "neuroplast predict"),
    (["ab", "start", "m"], "Missing option '--split'", "neuroplast ab start"),
    (["ab", "status", "m", "--since"], "requires an argument", "neuroplast ab status"),
]


@pytest.mark.parametrize(
    ("args", "message", "command"), USAGE_MISTAKES, ids=[" ".join(a) for a, _, _ in USAGE_MISTAKES]
)
def test_a_usage_mistake_is_one_line_and_exit_code_2(
    tmp_path: Path, args: list[str], message: str, command: str
) -> None:
    done = neuroplast(*args, home=tmp_path / "home")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert f"(usage: {command} " in lines[0] and f"see `{command} --help`" in lines[0]
    assert not (tmp_path / "home").exists()  # a usage mistake creates nothing


def test_version_is_eager_and_completion_is_offered() -> None:
    version = neuroplast("--version")
    assert version.returncode == 0 and version.stdout.startswith("neuroplast 0.")
    assert neuroplast("--version", "train").stdout == version.stdout  # no "Missing command"
    completion = neuroplast("--show-completion", "bash")
    assert completion.returncode == 0 and "complete" in completion.stdout
    assert "--install-completion" in neuroplast("--help").stdout


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two versions of a tiny text CNN (real Rotten Tomatoes reviews)."""
    home = tmp_path_factory.mktemp("script-home")
    with one_torch_thread(), Engine(home) as engine:
        for _ in range(2):
            engine.train(small_text_config(epochs=1))
    yield home


# Commands that read or describe the registry must not pay for importing torch.
NO_TORCH = [
    ["--help"],
    ["init"],
    ["init", "-t", "image-cnn", "-o", "{tmp}/cfg.yaml"],
    ["datasets", "list"],
    ["datasets", "list", "--json"],
    ["models", "list"],
    ["models", "show", "rt-small"],
    ["models", "show", "rt-small", "--json"],
    ["models", "versions", "rt-small"],
    ["models", "history", "rt-small"],
    ["models", "promote", "rt-small:1"],
    ["models", "promote", "rt-small:2"],
    ["models", "rollback", "rt-small"],
    ["ab", "shadow", "rt-small:2"],
    ["ab", "status", "rt-small", "--since", "1h"],
    ["ab", "shadow", "rt-small:2", "--remove"],
    ["ab", "start", "rt-small", "--split", "1:0.5,2:0.5", "--sticky-key", "user_id"],
    ["ab", "status", "rt-small", "--json"],
    ["ab", "stop", "rt-small", "--promote", "1"],
    ["models", "delete", "rt-small:2", "--yes"],
    ["registry", "verify"],
    ["registry", "gc"],
]

_CHILD = """
import json, sys
from neuroplast.cli import main
report = []
for args in json.loads(sys.argv[1]):
    sys.argv = ["neuroplast", *args]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code
    report.append({"args": args, "code": code, "torch": "torch" in sys.modules})
print("REPORT " + json.dumps(report))
"""


def test_registry_and_help_commands_import_no_torch(trained_home: Path, tmp_path: Path) -> None:
    commands = [[a.replace("{tmp}", str(tmp_path)) for a in args] for args in NO_TORCH]
    env = {**os.environ, "NEUROPLAST_HOME": str(trained_home), "NEUROPLAST_NO_PROGRESS": "1"}
    env.pop("NEUROPLAST_DB_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(commands)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("REPORT "))
    report = json.loads(line.removeprefix("REPORT "))
    assert [r["code"] for r in report] == [0] * len(NO_TORCH), done.stderr
    assert [" ".join(r["args"]) for r in report if r["torch"]] == []
    assert (tmp_path / "cfg.yaml").is_file()


def test_exit_codes_reach_the_shell(trained_home: Path) -> None:
    # "no" to a confirmation: exit 1, nothing deleted
    refused = neuroplast("models", "delete", "rt-small:1", home=trained_home, stdin="n\n")
    assert refused.returncode == 1 and "nothing deleted" in refused.stderr
    assert neuroplast("models", "show", "rt-small:1", home=trained_home).returncode == 0
    # a damaged artifact: verify lists it and exits 7 (also with --json)
    weights = trained_home / "artifacts" / "rt-small" / "v1" / "weights.safetensors"
    intact = weights.read_bytes()
    try:
        weights.write_bytes(intact[:-4] + b"\0\0\0\0")
        dirty = neuroplast("registry", "verify", home=trained_home)
        assert dirty.returncode == 7 and "1 problems" in dirty.stdout
        as_json = neuroplast("registry", "verify", "--json", home=trained_home)
        assert as_json.returncode == 7 and json.loads(as_json.stdout)["clean"] is False
    finally:
        weights.write_bytes(intact)
    assert neuroplast("registry", "verify", home=trained_home).returncode == 0
    # a missing model: ModelNotFoundError's code
    assert neuroplast("models", "show", "ghost", home=trained_home).returncode == 4
