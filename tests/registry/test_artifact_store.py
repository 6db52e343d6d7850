"""The artifact store interface: the local directory and fsspec URLs (local and memory file
systems), and a registry whose artifacts live in a non-local store."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuroplast.errors import ArtifactError
from neuroplast.registry import Registry
from neuroplast.registry.artifact_store import ArtifactStore, open_artifact_store
from neuroplast.registry.artifacts import atomic_write_json
from neuroplast.registry.maintenance import delete_version, gc, verify
from tests.conftest import small_image_config


@pytest.fixture(params=["local", "fsspec-file", "fsspec-memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield open_artifact_store(tmp_path / "store")
    elif request.param == "fsspec-file":
        yield open_artifact_store(f"file://{tmp_path}/store")
    else:
        root = f"memory://np-{uuid.uuid4().hex[:8]}/artifacts"
        yield open_artifact_store(root)
        import fsspec

        fsspec.filesystem("memory").rm(root.split("://")[1], recursive=True)


def test_put_get_list_delete_and_no_temporary_files_left(store: ArtifactStore) -> None:
    a = store.put("m/v1/weights.safetensors", b"\x00" * 1000)
    b = store.put("m/v1/plots/curve.png", b"png")
    assert store.get(a) == b"\x00" * 1000 and store.exists(b)
    assert sorted(store.list()) == sorted([a, b])  # nothing else, no temp files
    store.put("m/v1/plots/curve.png", b"png2")  # overwrite is atomic too
    assert store.get(b) == b"png2" and len(store.list()) == 2
    store.delete(a)
    assert not store.exists(a) and store.list() == [b]


def test_reads_are_verified_and_keys_cannot_escape(store: ArtifactStore) -> None:
    location = store.put("m/v1/model.json", b'{"a": 1}')
    store.get_verified(location, store.sha256(location))
    with pytest.raises(ArtifactError, match="does not match its recorded sha256"):
        store.get_verified(location, "0" * 64)
    store.delete(location)
    with pytest.raises(ArtifactError, match="is missing"):
        store.get_verified(location, "0" * 64)
    with pytest.raises(ArtifactError, match="outside the store"):
        store.put("../../etc/evil", b"x")


def test_a_bad_store_url_is_explained(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="cannot be opened"):
        Registry(tmp_path, artifact_url="nosuchprotocol://x/y")


def _register(reg: Registry, name: str = "m") -> str:
    v = reg.create_version(name, architecture="cnn", task="t", modality="text", config={})
    path = v.artifact_dir / "model.json"
    reg.finalize_version(
        v.id, files={"model.json": (path, atomic_write_json(path, {"v": 1}))}, params_count=1
    )
    return v.ref


def test_a_registry_on_a_memory_store_publishes_fetches_verifies_and_collects(
    tmp_path: Path,
) -> None:
    url = f"memory://np-{uuid.uuid4().hex[:8]}/artifacts"
    reg = Registry(tmp_path / "home", artifact_url=url)
    ref = _register(reg)
    version = reg.resolve(ref)
    location = version.artifacts["model.json"].location
    assert location.startswith("memory://") and reg.artifact_store.exists(location)

    shutil.rmtree(version.artifact_dir)  # another machine: nothing local
    local = reg.ensure_local(reg.resolve(ref))
    assert local.artifact_dir == tmp_path / "home" / "cache" / version.uid
    assert local.artifacts["model.json"].path.read_text().strip().startswith("{")
    assert verify(reg).clean

    reg.artifact_store.put("m/v1/model.json", b"tampered")
    report = verify(reg)
    assert report.problems == [f"{location}: sha256 mismatch (modified or truncated)"]
    shutil.rmtree(tmp_path / "home" / "cache")
    with pytest.raises(ArtifactError, match="does not match"):
        reg.ensure_local(reg.resolve(ref))

    stray = reg.artifact_store.put("old/v9/model.json", b"{}")
    assert stray in verify(reg).orphans
    assert gc(reg) == [stray]
    delete_version(reg, ref)
    assert not reg.artifact_store.exists(location)
    reg.close()


@pytest.mark.slow
def test_a_model_trained_into_a_memory_store_loads_elsewhere(tmp_path: Path) -> None:
    from neuroplast.engine import Engine
    from neuroplast.workflows import load_registered

    url = f"memory://np-{uuid.uuid4().hex[:8]}/artifacts"
    with Engine(tmp_path / "a") as engine:
        engine.registry.artifact_store = open_artifact_store(url)
        version = engine.train(small_image_config(epochs=1)).version
        assert all(a.location.startswith("memory://") for a in version.artifacts.values())
        shutil.rmtree(version.artifact_dir)
        loaded_version, loaded = load_registered(engine.registry, version.ref)
        assert loaded_version.artifact_dir.parent.name == "cache"
        assert loaded.meta.architecture == "image_mlp"
