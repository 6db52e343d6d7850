"""``neuroplast neuro`` and seed 003's console-script aliases: configs, and bad input told
in one line with a non-zero exit (nothing here trains)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from neuroplast.continual.neuromorphic.run_config import load_neuro_config
from neuroplast.errors import ConfigError
from tests.conftest import Result


def test_init_writes_a_config_with_the_seed_sections(cli: Callable[..., Result]) -> None:
    result = cli("neuro", "init", "--template", "image")
    assert result.code == 0, result.err
    raw = yaml.safe_load(result.out)
    assert {"concept_encoder", "prototype_manager", "snn", "distributed"} <= set(raw)
    assert raw["distributed"].keys() >= {"num_nodes", "num_gpus_per_node", "backend",
                                         "precision", "use_fsdp"}  # fmt: skip
    assert raw["concept_encoder"]["encoder_type"] == "efficientnet-lite0"


def test_a_bad_key_is_refused_with_where_it_is(tmp_path: Path, cli: Callable[..., Result]) -> None:
    path = tmp_path / "neuro.yaml"
    path.write_text("snn:\n  neuron_typ: lif\n")
    with pytest.raises(ConfigError, match=r"snn\.neuron_typ"):
        load_neuro_config(path)
    result = cli("neuro", "train", str(path), "--no-register")
    assert result.code != 0 and "neuron_typ" in result.err and "error:" in result.err


def test_several_nodes_are_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "neuro.yaml"
    path.write_text("distributed: {num_nodes: 2}\n")
    with pytest.raises(ConfigError, match="one process"):
        load_neuro_config(path)


def test_a_missing_config_says_how_to_make_one(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("neuro", "train", str(tmp_path / "nope.yaml"))
    assert result.code != 0 and "neuro init" in result.err


def test_an_unknown_model_is_an_error(cli: Callable[..., Result], home: Path) -> None:
    result = cli("neuro", "infer", "no-such-learner", "some text")
    assert result.code != 0 and "no-such-learner" in result.err


def test_a_missing_input_file_is_named(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.png"
    result = cli("neuro", "infer", "any", "--input", str(missing))
    assert result.code != 0 and str(missing) in result.err and "not found" in result.err


def test_analyze_without_results_says_what_to_run(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    result = cli("neuro", "analyze", str(tmp_path))
    assert result.code != 0 and "neuro evaluate" in result.err


def _script(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).is_file():
        pytest.skip(f"{name} is not installed (pip install -e . installs the console scripts)")
    return found


def test_the_seed_console_scripts_are_installed() -> None:
    out = subprocess.run(
        [_script("neuromorphic-train"), "--help"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "generate-config" in out.stdout and "train" in out.stdout


def _alias(
    main: Callable[[], None], argv: list[str], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Result:  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    return Result(int(exit_.value.code or 0), captured.out, captured.err)


def test_the_aliases_run_the_same_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from neuroplast.cli import neuro

    argv = ["neuromorphic-train", "generate-config", "--template", "basic"]
    result = _alias(neuro.train_main, argv, capsys, monkeypatch)
    assert result.code == 0, result.err
    assert yaml.safe_load(result.out)["name"] == "neuro-fashion"
    bad = tmp_path / "bad.yaml"
    bad.write_text("prototype_manager: {max_prototypes: 0}\n")
    argv = ["neuromorphic-train", "train", "--config", str(bad), "--no-register"]
    result = _alias(neuro.train_main, argv, capsys, monkeypatch)
    assert result.code != 0 and "max_prototypes" in result.err
    assert result.err.startswith("error:")
    argv = ["neuromorphic-eval", "analyze-results", "--results-file", str(tmp_path / "none")]
    result = _alias(neuro.eval_main, argv, capsys, monkeypatch)
    assert result.code != 0 and "neuro evaluate" in result.err
    result = _alias(neuro.infer_main, ["neuromorphic-infer", "batch-infer", "--bogus"], capsys,
                    monkeypatch)  # fmt: skip
    assert result.code == 2 and "bogus" in result.err


def test_the_alias_apps_hold_the_seed_command_names() -> None:
    import typer

    from neuroplast.cli import neuro

    names = {
        app: {c.name for c in typer.main.get_group(app).commands.values()}
        for app in (neuro.train_app, neuro.eval_app, neuro.infer_app)
    }
    assert names[neuro.train_app] == {"train", "generate-config"}
    assert names[neuro.eval_app] == {"evaluate", "analyze-results"}
    assert names[neuro.infer_app] == {"infer", "batch-infer"}


def test_continual_run_refuses_the_neuromorphic_learner_before_training(
    tmp_path: Path, cli: Callable[..., Result], home: Path
) -> None:
    stream = tmp_path / "stream.yaml"
    stream.write_text("stream: {source: split_mnist, tasks: 2}\n")
    result = cli("continual", "run", str(stream), "--strategy", "neuromorphic")
    assert result.code != 0
    assert "neuro train" in result.err and "--no-register" in result.err, result.err
    assert "ACC" not in result.out + result.err, "no seed ran"
    assert not list(home.rglob("*.safetensors")), "refused before anything was trained"
