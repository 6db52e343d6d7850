from __future__ import annotations

import pytest

from neuroplast.errors import ModelNotFoundError, RegistryError
from neuroplast.registry import Registry, history, promote
from neuroplast.registry.artifacts import atomic_write_json
from neuroplast.registry.maintenance import delete_version, gc, verify
from tests.registry._backends import OpenRegistry


def _version(reg: Registry, name: str = "m") -> int:
    v = reg.create_version(name, architecture="cnn", task="t", modality="text", config={})
    path = v.artifact_dir / "model.json"
    reg.finalize_version(
        v.id, files={"model.json": (path, atomic_write_json(path, {"v": 1}))}, params_count=1
    )
    reg.add_evaluation(v.id, split="test", data_source="x", metrics={"accuracy": 0.5})
    return v.version


def test_verify_is_clean_then_finds_tampering_missing_files_and_orphans(
    open_registry: OpenRegistry,
) -> None:
    reg = open_registry()
    _version(reg)
    _version(reg)
    report = verify(reg)
    assert report.clean and report.checked == 2 and report.orphans == []

    one = reg.resolve("m:1").artifacts["model.json"].path
    one.write_text('{"v": 2}\n')
    (reg.resolve("m:2").artifacts["model.json"].path).unlink()
    stray = reg.artifacts_root / "m" / "v9" / "weights.safetensors"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half a file")
    report = verify(reg)
    assert not report.clean
    assert any("v1/model.json: sha256 mismatch" in p for p in report.problems)
    assert any("v2/model.json: missing" in p for p in report.problems)
    assert report.orphans == [str(stray)]

    assert gc(reg) == [str(stray)]
    assert not stray.parent.exists() and verify(reg).orphans == []


def test_delete_removes_rows_and_files_and_keeps_the_audit_trail(
    open_registry: OpenRegistry,
) -> None:
    reg = open_registry()
    for _ in range(3):
        _version(reg)
    promote(reg, "m:2", "production")
    folder = reg.resolve("m:1").artifact_dir
    assert delete_version(reg, "m:1", reason="bad data") == "m:1"
    assert not folder.exists()
    with pytest.raises(ModelNotFoundError):
        reg.resolve("m:1")
    assert [v.version for v in reg.versions("m")] == [2, 3]
    with pytest.raises(RegistryError, match=r"is the production version.*--force"):
        delete_version(reg, "m:2")
    delete_version(reg, "m@production", force=True)
    assert verify(reg).clean
    actions = [(e.action, e.version) for e in history(reg, "m")]
    assert ("delete", 1) in actions and ("delete", 2) in actions
    delete_version(reg, "m:3")
    assert _version(reg) == 4, "version numbers are never reused"
