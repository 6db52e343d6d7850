"""``--json`` on every command that prints a table or a result: one parseable document on
stdout, in the shape each command's help documents. Plain text when piped: no box drawing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.cli.conftest import write_config
from tests.conftest import Result, small_text_config


def _json(cli: Callable[..., Result], *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_every_registry_command_prints_one_json_document(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "cfg.yaml", small_text_config(epochs=1))
    assert cli("train", str(cfg)).code == 0
    assert cli("train", str(cfg)).code == 0

    datasets = _json(cli, "datasets", "list")
    assert {d["name"] for d in datasets} >= {"rotten_tomatoes", "digits"}
    assert set(datasets[0]) == {
        "name",
        "task",
        "size",
        "classes",
        "source",
        "installed",
        "install_hint",
    }

    listed = _json(cli, "models", "list")
    assert listed["home"] == str(home)
    (model,) = listed["models"]
    assert model["name"] == "rt-small" and model["versions"] == 2
    assert model["latest"]["ref"] == "rt-small:2" and model["production"] is None
    assert 0.0 < model["latest"]["metrics"]["test_accuracy"] <= 1.0

    promoted = _json(cli, "models", "promote", "rt-small:1")
    assert promoted["ref"] == "rt-small:1" and promoted["stage"] == "production"
    # a bare name now means the production version, not the newest
    assert _json(cli, "models", "show", "rt-small")["model_id"] == "rt-small:1"
    assert _json(cli, "models", "list")["models"][0]["production"] == "rt-small:1"
    assert _json(cli, "models", "promote", "rt-small:2")["stage"] == "production"
    assert _json(cli, "models", "rollback", "rt-small")["ref"] == "rt-small:1"

    versions = _json(cli, "models", "versions", "rt-small")
    assert [(v["ref"], v["stage"], v["made_by"]) for v in versions] == [
        ("rt-small:1", "production", "train"),
        ("rt-small:2", "archived", "train"),
    ]
    history = _json(cli, "models", "history", "rt-small")
    assert [e["action"] for e in history][-1] == "rollback"
    assert history[0]["details"] is None  # a decision's numbers, when it has them
    assert set(history[0]) == {
        "at",
        "user",
        "action",
        "version",
        "details",
        "stage_from",
        "stage_to",
        "reason",
    }

    evaluated = _json(cli, "evaluate", "rt-small:2", "--split", "val")
    assert evaluated["version"] == "rt-small:2" and evaluated["split"] == "val"
    assert 0.0 < evaluated["metrics"]["accuracy"] <= 1.0 and evaluated["metrics"]["samples"] > 0
    assert set(evaluated["per_class"]) == {"rotten", "fresh"}

    bundle = tmp_path / "m.tar"
    exported = _json(cli, "models", "export", "rt-small:2", "-o", str(bundle))
    assert exported == {"ref": "rt-small:2", "path": str(bundle), "bytes": bundle.stat().st_size}
    other = tmp_path / "other"
    imported = _json(cli, "models", "import", str(bundle), "--name", "copy", "--home", str(other))
    assert imported["ref"] == "copy:1" and imported["source"] == "import"

    assert _json(cli, "models", "delete", "rt-small:2", "--yes") == {"deleted": ["rt-small:2"]}
    (home / "artifacts" / "rt-small" / "junk.tmp").write_text("x")
    verified = _json(cli, "registry", "verify")
    assert verified["clean"] is True and len(verified["orphans"]) == 1
    removed = _json(cli, "registry", "gc")["removed"]
    assert len(removed) == 1 and removed[0].endswith("junk.tmp")

    lines = cli("predict", "rt-small", "a witty film", "a dull mess", "--json", "-k", "2").out
    rows = [json.loads(line) for line in lines.splitlines()]
    assert [r["input"] for r in rows] == ["a witty film", "a dull mess"]
    assert all(len(r["top_k"]) == 2 for r in rows)


def test_tables_are_plain_aligned_text_when_piped(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "cfg.yaml", small_text_config(epochs=1))
    assert cli("train", str(cfg)).code == 0
    out = cli("models", "list").out
    assert not any(ch in out for ch in "│┃━┏└")
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("name"))
    columns = lines[header].split()
    row = lines[header + 1]
    assert columns[:3] == ["name", "latest", "production"]
    assert row.split()[:3] == ["rt-small", "rt-small:1", "-"]
    # right-aligned numbers end where their header ends
    end = lines[header].index("parameters") + len("parameters")
    assert row[:end].rstrip().endswith(row[:end].split()[-1]) and row[end - 1].isdigit()


def test_train_json_keeps_stdout_for_the_document(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "cfg.yaml", small_text_config(epochs=2))
    result = cli("train", str(cfg), "--json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["version"]["ref"] == "rt-small:1" and document["home"] == str(home)
    assert [m["epoch"] for m in document["history"]] == [1, 2]
    assert all(m["learning_rate"] > 0 for m in document["history"])
    assert 0.0 < document["test"]["accuracy"] <= 1.0 and document["test"]["samples"] > 0
    assert document["baseline"] is None or 0.0 < document["baseline"]["accuracy"] <= 1.0
    assert "epoch 1: train_loss" in result.err and "epoch 2: train_loss" in result.err
    assert all(Path(p).is_file() for p in document["plots"].values())
