from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from neuroplast.errors import ConfigError, ModelNotFoundError, RegistryError
from neuroplast.registry import Registry, history, promote, rollback
from neuroplast.registry.artifacts import atomic_write_json
from tests.registry._backends import OpenRegistry


def _version(reg: Registry, name: str = "m") -> int:
    v = reg.create_version(name, architecture="cnn", task="t", modality="text", config={})
    path = v.artifact_dir / "model.json"
    reg.finalize_version(
        v.id, files={"model.json": (path, atomic_write_json(path, {}))}, params_count=1
    )
    return v.version


@pytest.fixture()
def reg(open_registry: OpenRegistry, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("NEUROPLAST_USER", "ada")
    registry = open_registry()
    for _ in range(3):
        _version(registry)
    return registry


def _stages(reg: Registry) -> dict[int, str]:
    return {v.version: v.stage for v in reg.versions("m")}


def test_new_versions_are_candidates_and_production_is_unique(reg: Registry) -> None:
    assert _stages(reg) == {1: "candidate", 2: "candidate", 3: "candidate"}
    promote(reg, "m:1", "production", reason="first ship")
    promote(reg, "m:2", "production", reason="beats v1 by 1.4 pt F1")
    assert _stages(reg) == {1: "archived", 2: "production", 3: "candidate"}
    assert reg.resolve("m@production").version == 2
    assert reg.resolve("m@candidate").version == 3
    assert reg.resolve("m@archived").version == 1
    with pytest.raises(ModelNotFoundError):
        Registry(reg.home).resolve("other@production")


def test_rollback_restores_the_previous_production_version(reg: Registry) -> None:
    promote(reg, "m:1", "production")
    promote(reg, "m:3", "production")
    back = rollback(reg, "m", reason="v3 raised complaints")
    assert back.version == 1 and _stages(reg) == {1: "production", 2: "candidate", 3: "archived"}
    assert reg.resolve("m@production").version == 1
    with pytest.raises(RegistryError, match="first production version; nothing to roll back"):
        rollback(reg, "m")


def test_history_records_who_what_when_and_why(reg: Registry) -> None:
    promote(reg, "m:1", "production", reason="first ship")
    promote(reg, "m:2", "production", reason="better")
    rollback(reg, "m", reason="regression")
    events = history(reg, "m")
    assert [(e.action, e.version, e.stage_to) for e in events] == [
        ("train", 1, "candidate"),
        ("train", 2, "candidate"),
        ("train", 3, "candidate"),
        ("promote", 1, "production"),
        ("archive", 1, "archived"),
        ("promote", 2, "production"),
        ("rollback", 2, "archived"),
        ("rollback", 1, "production"),
    ]
    assert {e.user for e in events} == {"ada"}
    assert events[5].reason == "better" and events[4].reason == "replaced by v2"
    assert all(a.at <= b.at for a, b in itertools.pairwise(events))


def test_bad_stage_and_unknown_model_are_explained(reg: Registry) -> None:
    with pytest.raises(ConfigError, match="--stage must be one of candidate, production, archived"):
        promote(reg, "m:1", "prod")
    with pytest.raises(RegistryError, match="no production version to roll back"):
        rollback(reg, "m")
    with pytest.raises(ModelNotFoundError, match="no model named 'ghost'"):
        history(reg, "ghost")


def test_lineage_follows_parents_and_travels_with_an_export(
    open_registry: OpenRegistry, tmp_path: Path
) -> None:
    from neuroplast.registry import lineage
    from neuroplast.registry.transfer import export_version, import_bundle

    reg = open_registry()
    base = reg.create_version("lin", architecture="cnn", task="t", modality="text", config={})
    reg.finalize_version(base.id, files={}, params_count=1)
    parent = base
    for source in ("compress", "continual"):
        child = reg.create_version(
            "lin",
            architecture="cnn",
            task="t",
            modality="text",
            config={},
            source=source,
            parent_id=parent.id,
        )
        path = child.artifact_dir / "notes.json"
        reg.finalize_version(
            child.id,
            files={"notes.json": (path, atomic_write_json(path, {}))},
            params_count=1,
            metrics={"technique": "dynamic int8"} if source == "compress" else {},
        )
        parent = child
    assert [(v.ref, v.source, v.parent) for v in reg.versions("lin")] == [
        ("lin:1", "train", None),
        ("lin:2", "compress", "lin:1"),
        ("lin:3", "continual", "lin:2"),
    ]
    assert [v.ref for v in lineage(reg, "lin:3")] == ["lin:3", "lin:2", "lin:1"]

    bundle = export_version(reg, "lin:3", tmp_path / "lin.tar")
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert bundle.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # not mkstemp's 0o600
    with Registry(tmp_path / "other") as other:
        imported = import_bundle(other, bundle)
        assert imported.source == "import"
        assert imported.metrics["imported_lineage"] == ["lin:3", "lin:2", "lin:1"]


def test_a_bare_name_means_production_else_the_newest(reg: Registry) -> None:
    assert reg.resolve("m").version == 3  # no production version: the newest
    promote(reg, "m:2", "production")
    _version(reg)  # a later compress / export / update adds a candidate
    assert reg.resolve("m").version == 2
    assert reg.resolve("m:4").version == 4 and reg.resolve("m@candidate").version == 4
    rollback_to = promote(reg, "m:4", "production")
    assert reg.resolve("m").version == rollback_to.version == 4
    rollback(reg, "m")
    assert reg.resolve("m").version == 2
