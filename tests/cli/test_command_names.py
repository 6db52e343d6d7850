"""The two exports have names that say which is which (`export-onnx`, `models
export-bundle`); their former names (`export`, `models export`) still run the same command
and are left out of the help."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from neuroplast import Engine
from tests.conftest import Result, one_torch_thread, small_text_config


def _commands(help_text: str) -> set[str]:
    """The command names listed in a ``--help`` page's Commands box."""
    names = set()
    for line in help_text.splitlines():
        words = line.strip("│ ").split()
        if words and words[0].replace("-", "").isalpha() and words[0].islower():
            names.add(words[0])
    return names


def test_help_lists_the_new_names_only(cli: Callable[..., Result]) -> None:
    top = cli("--help")
    assert top.code == 0
    assert "export-onnx" in _commands(top.out) and "export" not in _commands(top.out)
    models = cli("models", "--help")
    assert models.code == 0
    assert "export-bundle" in _commands(models.out) and "export" not in _commands(models.out)


@pytest.mark.parametrize(
    ("new", "old"),
    [(["export-onnx"], ["export"]), (["models", "export-bundle"], ["models", "export"])],
)
def test_the_former_name_is_the_same_command(
    cli: Callable[..., Result], new: list[str], old: list[str]
) -> None:
    new_help, old_help = cli(*new, "--help"), cli(*old, "--help")
    assert new_help.code == old_help.code == 0
    # the same options and text; only the command name in the usage line differs
    renamed = new_help.out.replace(" ".join(new), " ".join(old))
    assert renamed.split() == old_help.out.split() and "--output" in renamed


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("names-home")
    with one_torch_thread(), Engine(home) as engine:
        engine.train(small_text_config(epochs=1))
    return home


@pytest.mark.parametrize("command", ["export-bundle", "export"])
def test_both_names_write_the_same_bundle(
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    trained_home: Path,
    tmp_path: Path,
    command: str,
) -> None:
    monkeypatch.setenv("NEUROPLAST_HOME", str(trained_home))
    bundle = tmp_path / f"{command}.tar"
    result = cli("models", command, "rt-small:1", "-o", str(bundle))
    assert result.code == 0, result.err
    assert f"exported rt-small:1 to {bundle}" in result.out
    with tarfile.open(bundle) as tar:
        assert any(name.endswith("model.json") for name in tar.getnames())
    again = cli("models", command, "rt-small:1", "-o", str(bundle))
    assert again.code == 2 and "--force" in again.err  # an existing file needs --force


@pytest.mark.parametrize("command", ["export-onnx", "export"])
def test_both_names_refuse_an_unknown_model_alike(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, trained_home: Path, command: str
) -> None:
    monkeypatch.setenv("NEUROPLAST_HOME", str(trained_home))
    result = cli(command, "no-such-model", "--no-measure")
    assert result.code == 4 and result.err.startswith("error: ") and "no-such-model" in result.err


@pytest.mark.parametrize("command", ["predict", "evaluate", "bench"])
def test_backend_helps_list_the_registered_backends(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from neuroplast.inference import list_backends

    monkeypatch.setenv("COLUMNS", "400")  # one line per option: each name whole
    result = cli(command, "--help")
    assert result.code == 0
    (line,) = [line for line in result.out.splitlines() if line.strip("│ ").startswith("--backend")]
    for name in list_backends():
        assert f"{name}: " in line, name
