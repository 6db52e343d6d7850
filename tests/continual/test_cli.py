"""`neuroplast continual ...` as a user runs it, against a temporary registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from neuroplast.continual.config import parse_continual_config
from neuroplast.continual.record import STATE_FILE, load_plugin_state
from neuroplast.registry import Registry
from tests.conftest import Result
from tests.continual._fashion import write_folder

SMALL = [
    "--set",
    "stream.tasks=2",
    "--set",
    "stream.train_per_class=60",
    "--set",
    "stream.test_per_class=20",
    "--set",
    "train.epochs=1",
    "--set",
    "model.hidden_dim=32",
]


@pytest.fixture()
def stream_yaml(tmp_path: Path, cli: Callable[..., Result]) -> Path:
    result = cli("init", "--template", "continual")
    assert result.code == 0
    config = parse_continual_config(yaml.safe_load(result.out))
    assert config.stream.source == "split_mnist" and config.strategies == ["replay"]
    path = tmp_path / "stream.yaml"
    path.write_text(result.out)
    return path


def test_continual_run_prints_the_matrix_and_registers_the_model(
    stream_yaml: Path,
    home: Path,
    cli: Callable[..., Result],
) -> None:
    result = cli("continual", "run", str(stream_yaml), *SMALL, "--strategy", "replay+lwf")
    assert result.code == 0, result.err
    assert "after task" in result.out and "replay+lwf" in result.out
    # named after the config and the strategies that ran, not the template's replay alone
    assert "registered split-mnist-replay-lwf:1" in result.out
    with Registry(home) as registry:
        version = registry.resolve("split-mnist-replay-lwf")
    assert version.source == "continual"
    matrix = version.metrics["accuracy_matrix"]
    assert len(matrix) == 2 and version.metrics["acc"] == pytest.approx(sum(matrix[1]) / 2)
    assert version.metrics["strategy"] == "replay+lwf" and version.metrics["memory_bytes"] > 0
    assert (version.artifact_dir / "plots" / "accuracy_matrix.png").read_bytes()[:4] == b"\x89PNG"
    state = load_plugin_state(version)
    assert STATE_FILE in version.artifacts
    assert sorted(state["replay"]["buffer.y"].unique().tolist()) == [0, 1, 2, 3]


def test_continual_compare_prints_one_row_per_strategy(
    stream_yaml: Path,
    cli: Callable[..., Result],
) -> None:
    result = cli("continual", "compare", str(stream_yaml), *SMALL, "--strategies", "naive,ewc")
    assert result.code == 0, result.err
    header = next(i for i, line in enumerate(result.out.splitlines()) if "ACC %" in line)
    rows = result.out.splitlines()[header + 1 : header + 3]
    assert [r.split()[0] for r in rows] == ["naive", "ewc"]
    as_json = cli(
        "continual", "compare", str(stream_yaml), *SMALL, "--strategies", "naive,ewc", "--json"
    )
    assert as_json.code == 0, as_json.err
    document = json.loads(as_json.out)
    assert [s["strategy"] for s in document["summaries"]] == ["naive", "ewc"]
    assert document["tasks"] == 2 and all(0 <= s["acc"] <= 1 for s in document["summaries"])
    assert "naive seed" in as_json.err  # progress goes to stderr in JSON mode


def test_bad_strategy_and_bad_stream_are_one_line_errors(
    stream_yaml: Path,
    tmp_path: Path,
    cli: Callable[..., Result],
) -> None:
    result = cli("continual", "compare", str(stream_yaml), "--strategies", "naive,ewk")
    assert result.code == 2 and "unknown strategy 'ewk'" in result.err
    csv = tmp_path / "overlap.csv"
    rows = [f"text {i} {label},{label},{task}" for task, labels in (("a", "xy"), ("b", "yz"))
            for label in labels for i in range(8)]  # fmt: skip
    csv.write_text("text,label,task\n" + "\n".join(rows) + "\n")
    result = cli(
        "continual",
        "run",
        str(stream_yaml),
        "--set",
        "stream.source=csv",
        "--set",
        f"stream.path={csv}",
        "--set",
        "model.architecture=cnn",
        "--no-register",
    )
    assert result.code == 3
    assert "class 1 appears in task 1 and task 2" in result.err


def test_update_needs_allow_new_classes_for_unknown_labels(
    tmp_path: Path,
    home: Path,
    cli: Callable[..., Result],
) -> None:
    from neuroplast import Engine

    old = write_folder(tmp_path / "old", list(range(8)), 60, dataset="digits")
    new = write_folder(tmp_path / "new", [8, 9], 60, dataset="digits")
    config = {
        "name": "digits8",
        "data": {"path": str(old), "seed": 0},
        "model": {"architecture": "image_mlp", "hidden_dim": 64, "num_layers": 1},
        "train": {"epochs": 3, "batch_size": 32, "seed": 0},
    }
    with Engine(home) as engine:
        engine.train(config)
    result = cli("continual", "update", "digits8", "--data", str(new))
    assert result.code == 3
    assert "classes digits8:1 does not know: 8, 9" in result.err
    assert "--allow-new-classes" in result.err
    result = cli(
        "continual",
        "update",
        "digits8",
        "--data",
        str(new),
        "--allow-new-classes",
        "--buffer",
        "200",
    )
    assert result.code == 0, result.err
    assert "registered digits8:2" in result.out and "new classes: 8, 9" in result.out
    with Registry(home) as registry:
        child, parent = registry.resolve("digits8:2"), registry.resolve("digits8:1")
    assert child.parent_id == parent.id and child.source == "continual"
    assert child.metrics["strategy"] == "replay" and child.metrics["new_classes"] == ["8", "9"]
    assert child.metrics["old_accuracy_before"] > 0.8
    assert 0 < child.metrics["test_accuracy"] <= 1
    assert len(load_plugin_state(child)["replay"]["buffer.y"]) == 200
