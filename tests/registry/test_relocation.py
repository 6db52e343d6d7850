"""A home that is moved (``mv``) or copied (``cp -a``) keeps reading its own files: the
database records locations relative to the home. And ``gc`` refuses to run when most
recorded artifacts are missing (a moved home, an unreachable store) instead of deleting
everything else."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from neuroplast.errors import RegistryError
from neuroplast.registry import Registry, read_json_verified
from neuroplast.registry.artifacts import atomic_write_bytes, atomic_write_json
from neuroplast.registry.maintenance import collect_garbage, verify
from tests.conftest import Result
from tests.registry._backends import OpenRegistry


def _populate(reg: Registry) -> None:
    """Two versions (two files each, one evaluation plot), a run with a checkpoint."""
    run = reg.start_run("m", {"lr": 0.1})
    atomic_write_json(run.checkpoint_dir / "last.json", {"epoch": 1})
    reg.update_run(run.id, status="interrupted")
    for number in (1, 2):
        v = reg.create_version(
            "m", architecture="cnn", task="t", modality="text", config={}, run_id=run.id
        )
        model, weights = v.artifact_dir / "model.json", v.artifact_dir / "weights.safetensors"
        plot = v.artifact_dir / "plots" / "confusion_test.png"
        files = {
            "model.json": (model, atomic_write_json(model, {"v": number})),
            "weights.safetensors": (weights, atomic_write_bytes(weights, b"w" * number)),
        }
        atomic_write_bytes(plot, b"png")
        reg.add_evaluation(
            v.id, split="test", data_source="x", metrics={"accuracy": 0.5}, plots={"cm": plot}
        )
        reg.finalize_version(v.id, files=files, params_count=1)


def _rows(reg: Registry, sql: str) -> list[str]:
    with reg._engine.connect() as conn:
        return [str(v) for v in conn.execute(text(sql)).scalars()]


def test_a_moved_home_finds_its_files(open_registry: OpenRegistry, tmp_path: Path) -> None:
    home, moved = tmp_path / "home", tmp_path / "moved"
    reg = open_registry(home)
    _populate(reg)
    assert _rows(reg, "SELECT artifact_dir FROM versions ORDER BY id") == ["m/v1", "m/v2"]
    assert _rows(reg, "SELECT checkpoint_dir FROM runs")[0].startswith("runs/")
    assert all(not p.startswith("/") for p in _rows(reg, "SELECT path FROM artifacts"))
    reg.close()
    home.rename(moved)

    reg = open_registry(moved)
    report = verify(reg)
    assert report.clean and report.checked == 4 and report.orphans == []
    gc = collect_garbage(reg, grace_seconds=0)
    assert gc.removed == [] and gc.discarded_drafts == []
    version = reg.resolve("m:2")
    assert version.artifact_dir == moved / "artifacts" / "m" / "v2"
    artifact = version.artifacts["model.json"]
    assert artifact.location == str(version.artifact_dir / "model.json")
    assert read_json_verified(artifact.path, artifact.sha256) == {"v": 2}
    (evaluation,) = reg.evaluations(version)
    assert evaluation.plots == {"cm": str(version.artifact_dir / "plots" / "confusion_test.png")}
    run = reg.get_run(version.run_id or 0)
    assert run.checkpoint_dir.parent == moved / "runs"
    assert (run.checkpoint_dir / "last.json").is_file()


def test_a_copied_home_reads_its_own_files(open_registry: OpenRegistry, tmp_path: Path) -> None:
    home, copy = tmp_path / "home", tmp_path / "copy"
    _populate(open_registry(home))
    subprocess.run(["cp", "-a", str(home), str(copy)], check=True)
    original, copied = open_registry(home), open_registry(copy)

    path = copied.resolve("m:1").artifacts["weights.safetensors"].path
    assert path == copy / "artifacts" / "m" / "v1" / "weights.safetensors"
    path.write_bytes(b"tampered")
    assert verify(original).clean, "the original's files are untouched"
    assert verify(copied).problems == [f"{path}: sha256 mismatch (modified or truncated)"]
    for registry in (original, copied):
        assert collect_garbage(registry, grace_seconds=0).removed == []
    assert len(list((copy / "artifacts").rglob("*.*"))) == 6


def test_gc_refuses_when_most_artifacts_are_missing(
    open_registry: OpenRegistry, tmp_path: Path
) -> None:
    reg = open_registry(tmp_path / "home")
    _populate(reg)
    stray = reg.artifacts_root / "old" / "v7" / "weights.safetensors"
    atomic_write_bytes(stray, b"an orphan gc would normally remove")
    # three of the four recorded files vanish (an unmounted or half-copied store)
    for version, name in (
        ("v1", "model.json"),
        ("v1", "weights.safetensors"),
        ("v2", "model.json"),
    ):
        (reg.artifacts_root / "m" / version / name).unlink()
    with pytest.raises(RegistryError, match=r"3 of the 4 artifacts .* are missing") as caught:
        collect_garbage(reg, grace_seconds=0)
    assert "moved or copied" in str(caught.value) and "Nothing was deleted" in str(caught.value)
    assert stray.is_file()

    (reg.artifacts_root / "m" / "v1" / "model.json").write_text("{}")  # 2 of 4: gc runs
    assert collect_garbage(reg, grace_seconds=0).removed == [str(stray)]


def test_the_gc_command_refuses_with_exit_5(
    home: Path, cli: Callable[..., Result], tmp_path: Path
) -> None:
    with Registry(home) as reg:
        _populate(reg)
    shutil.move(home / "artifacts", tmp_path / "elsewhere")
    result = cli("registry", "gc", "--home", str(home))
    assert result.code == 5
    assert "4 of the 4 artifacts" in result.err and "may have been moved" in result.err
    assert (tmp_path / "elsewhere" / "m" / "v1" / "model.json").is_file()
