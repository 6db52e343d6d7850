"""A home that cannot be written (``chmod -R a-w``, a read-only mount) can still be listed,
shown, verified and predicted from, and nothing under it changes; a command that must
write says so clearly.

The tests run as root, whom permissions do not stop, so "cannot be written" is simulated:
``os.access`` answers no for the home, which makes the registry open SQLite with
``mode=ro``/``immutable=1`` (SQLite itself then refuses every write, for root too), and a
snapshot of every path, size and mtime under the home is compared before and after.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from neuroplast.config import parse_run_config
from neuroplast.errors import RegistryError
from neuroplast.registry import Registry
from neuroplast.workflows import train_from_config
from tests.conftest import Result, one_torch_thread, small_text_config

FIXTURE = Path(__file__).with_name("fixtures") / "registry_schema1.db"


def _snapshot(home: Path) -> dict[str, tuple[bool, int, int]]:
    return {
        str(p.relative_to(home)): (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(home.rglob("*"))
    }


def _deny_writes(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    real_access = os.access

    def access(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        inside = Path(str(path)).absolute().is_relative_to(home)
        if inside and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)


def test_a_read_only_home_is_read_and_left_exactly_as_it_was(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.delenv("NEUROPLAST_DB_URL", raising=False)
    with Registry(home) as reg, one_torch_thread():
        train_from_config(parse_run_config(small_text_config("ro", epochs=1)), reg)
    before = _snapshot(home)
    _deny_writes(monkeypatch, home)

    with Registry(home) as reg:
        assert reg.read_only and reg.read_only_reason == f"{home} is not writable"
        assert [m.name for m in reg.list_models()] == ["ro"]
        with (
            pytest.raises(OperationalError, match="readonly"),  # SQLite refuses, even root
            reg._engine.connect() as conn,
        ):
            conn.execute(text("UPDATE schema_info SET version = 99"))
    for args in (
        ("models", "list"),
        ("models", "show", "ro"),
        ("models", "history", "ro"),
        ("registry", "verify"),
        ("predict", "ro", "a warm, funny and moving film"),
    ):
        result = cli(*args, "--home", str(home))
        assert result.code == 0, (args, result.err)
    assert "ro:1" in cli("models", "list", "--home", str(home)).out

    for args in (
        ("registry", "gc"),
        ("models", "promote", "ro:1"),
        ("models", "delete", "ro", "-y"),
    ):
        result = cli(*args, "--home", str(home))
        assert result.code == 5, (args, result.err)
        assert f"the registry in {home} is read-only ({home} is not writable)" in result.err
        assert "make it writable, or work on a writable copy (cp -a)" in result.err
    assert _snapshot(home) == before


def test_a_read_only_database_that_needs_an_upgrade_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEUROPLAST_DB_URL", raising=False)
    shutil.copy(FIXTURE, tmp_path / "registry.db")
    before = _snapshot(tmp_path)
    _deny_writes(monkeypatch, tmp_path)
    with pytest.raises(
        RegistryError,
        match=r"is read-only and its schema is revision from before migrations, but this "
        r"neuroplast needs 0005: open it once with write access",
    ):
        Registry(tmp_path)
    assert _snapshot(tmp_path) == before


def test_a_read_only_home_without_a_registry_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEUROPLAST_DB_URL", raising=False)
    _deny_writes(monkeypatch, tmp_path)
    with pytest.raises(RegistryError, match=r"there is no registry in .*, and it is read-only"):
        Registry(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_read_only_can_be_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEUROPLAST_DB_URL", raising=False)
    with Registry(tmp_path) as reg:
        reg.start_run("m", {})
    with Registry(tmp_path, read_only=True) as reg:
        assert reg.read_only_reason == "opened read-only"
        assert reg.latest_interrupted_run({}) is not None
        with pytest.raises(RegistryError, match=r"read-only \(opened read-only\); changing"):
            reg.start_run("m", {})
