"""Bad tuning input fails before any trial, with one line that says what and how to fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.tuning.conftest import tune_config, write_yaml


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    return write_yaml(tmp_path / "cfg.yaml", tune_config())


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("params: [1, 2]", "params"),
        ("params:\n  model.dropout: {type: float, low: 0.6, high: 0.1}", "must be below high"),
        ("params:\n  model.dropout: {type: gaussian}", "float|int|categorical"),
        ("params:\n  data.max_length: {type: int, low: 8, high: 64}", "tune keys under model."),
        ("params:\n  model.no_such_key: {type: int, low: 1, high: 4}", "no_such_key"),
        ("params: {model.dropout: {type: float, low: 0.1", "not valid YAML"),
    ],
)
def test_bad_space(
    cli: Callable[..., Result], home: Path, config: Path, tmp_path: Path, space: str, message: str
) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(space)
    result = cli("tune", str(config), "--space", str(path), "--trials", "1")
    assert result.code == 2 and result.err.startswith("error: --space")
    assert message in result.err
    assert not (home / "optuna.db").exists()  # nothing started


def test_unknown_metric(cli: Callable[..., Result], home: Path, config: Path) -> None:
    result = cli("tune", str(config), "--metric", "val_f1", "--trials", "1")
    assert result.code == 2
    assert "--metric 'val_f1'" in result.err and "val_accuracy, val_loss" in result.err


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@127.0.0.1/db", "backend 'mysql' is not supported"),
        ("sqlite://", "in-memory SQLite study cannot be shared"),
        ("sqlite:////no/such/folder/study.db", "does not exist"),
        ("postgresql+psycopg://u@127.0.0.1:1/db", "cannot open the study storage"),
    ],
)
def test_bad_storage(
    cli: Callable[..., Result], home: Path, config: Path, storage: str, message: str
) -> None:
    result = cli("tune", str(config), "--storage", storage, "--trials", "1")
    assert result.code in (2, 5) and message in result.err, result.err
    assert result.err.count("\n") == 1


def test_the_registrys_own_sqlite_file_is_refused(
    cli: Callable[..., Result], home: Path, config: Path
) -> None:
    result = cli("tune", str(config), "--storage", f"sqlite:///{home}/registry.db", "--trials", "1")
    assert result.code == 2 and "alembic_version table would clash" in result.err


def test_status_of_an_unknown_study(cli: Callable[..., Result], home: Path) -> None:
    result = cli("tune", "status", "nope")
    assert result.code == 4 and "no study named 'nope'" in result.err
    assert cli("tune", "status").code == 2


def test_bad_timeout(cli: Callable[..., Result], home: Path, config: Path) -> None:
    result = cli("tune", str(config), "--timeout", "soon")
    assert result.code == 2 and "expected a duration such as 90s" in result.err


def test_a_bad_override(cli: Callable[..., Result], home: Path, config: Path) -> None:
    result = cli("tune", str(config), "--set", "model.no_such_key=3", "--trials", "1")
    assert result.code == 2 and "no_such_key" in result.err
    assert not (home / "optuna.db").exists()
